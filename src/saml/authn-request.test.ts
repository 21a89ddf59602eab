import { deflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  AuthnRequestError,
  decodeSamlRequest,
  encodeRedirectSamlRequest,
  parseAuthnRequest,
} from "./authn-request.ts";

const request = (attributes = 'ID="_abc" Version="2.0"', issuer = "urn:sp") =>
  `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ${attributes} AssertionConsumerServiceURL="https://sp/acs"><saml:Issuer> ${issuer} </saml:Issuer></samlp:AuthnRequest>`;

describe("AuthnRequest", () => {
  it("round-trips the Redirect binding and reads ID, Issuer and the ACS URL", () => {
    const xml = decodeSamlRequest(encodeRedirectSamlRequest(request()), "redirect");
    expect(parseAuthnRequest(xml)).toEqual({
      id: "_abc",
      issuer: "urn:sp",
      acsUrl: "https://sp/acs",
      protocolBinding: undefined,
      forceAuthn: false,
      isPassive: false,
      requestedAuthnContext: undefined,
    });
    const posted = Buffer.from(request()).toString("base64");
    expect(parseAuthnRequest(decodeSamlRequest(posted, "post")).id).toBe("_abc");
  });

  it.each([
    ["not XML", "<<<"],
    ["another message", request().replaceAll("AuthnRequest", "LogoutRequest")],
    ["SAML 1.1", request('ID="_abc" Version="1.1"')],
    ["no ID", request('Version="2.0"')],
    ["no Issuer", request(undefined, "")],
    ["an artifact binding", request('ID="_a" Version="2.0" ProtocolBinding="urn:x"')],
    ["a DOCTYPE", `<!DOCTYPE x [<!ENTITY e "e">]>${request()}`],
  ])("refuses %s", (_, xml) => {
    expect(() => parseAuthnRequest(xml)).toThrow(AuthnRequestError);
  });

  it("refuses a request that inflates past 64 KiB, and one that is not deflated", () => {
    const bomb = deflateRawSync(Buffer.alloc(1024 * 1024, 32)).toString("base64");
    expect(() => decodeSamlRequest(bomb, "redirect")).toThrow(/too large/);
    expect(() => decodeSamlRequest(Buffer.from("plain").toString("base64"), "redirect")).toThrow(
      AuthnRequestError,
    );
  });
});

describe("AuthnRequest sign-in requirements", () => {
  const withContext = (inner: string, attributes = 'ID="_abc" Version="2.0"') =>
    request(attributes).replace("</samlp:AuthnRequest>", `${inner}</samlp:AuthnRequest>`);
  it("reads ForceAuthn, IsPassive and RequestedAuthnContext", () => {
    const xml = withContext(
      '<samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>urn:x</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>',
      'ID="_abc" Version="2.0" ForceAuthn="true" IsPassive="1"',
    );
    expect(parseAuthnRequest(xml)).toMatchObject({
      forceAuthn: true,
      isPassive: true,
      requestedAuthnContext: { comparison: "minimum", classRefs: ["urn:x"] },
    });
    expect(parseAuthnRequest(request())).toMatchObject({
      forceAuthn: false,
      isPassive: false,
      requestedAuthnContext: undefined,
    });
  });

  it.each([
    [
      "an unknown comparison",
      '<samlp:RequestedAuthnContext Comparison="most"><saml:AuthnContextClassRef>urn:x</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>',
    ],
    ["no class", "<samlp:RequestedAuthnContext></samlp:RequestedAuthnContext>"],
    [
      "a declaration",
      "<samlp:RequestedAuthnContext><saml:AuthnContextDeclRef>urn:d</saml:AuthnContextDeclRef></samlp:RequestedAuthnContext>",
    ],
  ])("refuses %s", (_, inner) => {
    expect(() => parseAuthnRequest(withContext(inner))).toThrow(AuthnRequestError);
  });
});
