import { describe, expect, it } from "vitest";
import { MetadataError, parseUpstreamMetadata } from "./upstream-metadata.ts";

const CERT = "MIIBszCCAVmgAwIBAgIUQ2VydA==";
const idp = (inner: string, entityId = "https://idp.example.com/metadata") =>
  `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${entityId}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">${inner}</md:IDPSSODescriptor></md:EntityDescriptor>`;
const key = (use: string | undefined, cert = CERT) =>
  `<md:KeyDescriptor${use ? ` use="${use}"` : ""}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n ${cert}\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
const sso = (binding: string, location = "https://idp.example.com/sso") =>
  `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:${binding}" Location="${location}"/>`;

describe("upstream IdP metadata", () => {
  it("reads the entity id, the Redirect SSO URL and the signing certificates (not encryption)", () => {
    const parsed = parseUpstreamMetadata(
      idp(
        key("signing") +
          key("encryption", "RU5DUllQVA==") +
          key(undefined, "U0VDT05E") +
          sso("HTTP-POST", "https://idp.example.com/post") +
          sso("HTTP-Redirect"),
      ),
    );
    expect(parsed.entityId).toBe("https://idp.example.com/metadata");
    expect(parsed.ssoUrl).toBe("https://idp.example.com/sso");
    expect(parsed.signingCertificates).toEqual([
      `-----BEGIN CERTIFICATE-----\n${CERT}\n-----END CERTIFICATE-----\n`,
      "-----BEGIN CERTIFICATE-----\nU0VDT05E\n-----END CERTIFICATE-----\n",
    ]);
  });

  it("finds the one IdP of an EntitiesDescriptor", () => {
    const xml = `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">${idp(key("signing") + sso("HTTP-Redirect"))}</md:EntitiesDescriptor>`;
    expect(parseUpstreamMetadata(xml).entityId).toBe("https://idp.example.com/metadata");
  });

  it.each([
    ["not XML", "<md:EntityDescriptor", "not well-formed"],
    ["a DOCTYPE (entity expansion)", `<!DOCTYPE x [<!ENTITY a "b">]>${idp("")}`, "DOCTYPE"],
    [
      "no IdP",
      `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`,
      "no identity provider",
    ],
    ["no Redirect binding", idp(key("signing") + sso("HTTP-POST")), "HTTP-Redirect"],
    [
      "no signing certificate",
      idp(key("encryption") + sso("HTTP-Redirect")),
      "no signing certificate",
    ],
    ["no entityID", idp(key("signing") + sso("HTTP-Redirect"), ""), "no entityID"],
    ["more than 1 MiB", idp(`<!--${"x".repeat(1024 * 1024)}-->`), "larger than 1 MiB"],
  ])("refuses metadata with %s", (_what, xml, message) => {
    expect(() => parseUpstreamMetadata(xml)).toThrow(MetadataError);
    expect(() => parseUpstreamMetadata(xml)).toThrow(message);
  });
});
