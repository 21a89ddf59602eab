import { createPrivateKey } from "node:crypto";
import { GetCallerIdentityCommand, AssumeRoleWithSAMLCommand } from "@aws-sdk/client-sts";
import { SAML } from "@node-saml/node-saml";
import { DOMParser } from "@xmldom/xmldom";
import { describe, expect, it } from "vitest";
import { AWS_AUDIENCE, awsSignInAttributes } from "../../../src/saml/aws-sign-in.ts";
import { buildResponse } from "../../../src/saml/response.ts";
import { signElement } from "../../../src/saml/sign.ts";
import { certificateBase64, createSigningIdentity } from "../../../src/saml/signing-identity.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { xmlsecVerifies } from "../../harness/xmlsec.ts";

const SIGN_IN = "https://signin.aws.amazon.com/saml";
const ISSUER = "https://sso.example.com/saml/metadata";
const ACCOUNT = "555555555555";

describe("SAML responses for AWS sign-in, checked by independent verifiers", () => {
  const env = useTestEnvironment({ moto: true });
  const identity = createSigningIdentity("sso.example.com", new Date());
  const key = {
    privateKey: createPrivateKey(identity.privateKeyPem),
    certificateBase64: certificateBase64(identity.certificatePem),
  };

  function awsResponse(overrides: { tags?: Record<string, string>; now?: Date } = {}) {
    const now = overrides.now ?? new Date();
    const { xml } = buildResponse({
      issuer: ISSUER,
      destination: SIGN_IN,
      audience: AWS_AUDIENCE,
      nameId: "u-7f3a9c",
      nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
      now,
      attributes: awsSignInAttributes({
        roleArn: `arn:aws:iam::${ACCOUNT}:role/identitycenter/IdC_ReadOnlyAccess_0123456789abcdef`,
        samlProviderArn: `arn:aws:iam::${ACCOUNT}:saml-provider/IdentityCenterOperator_default`,
        roleSessionName: "alice@example.com",
        sessionDurationSeconds: 3600,
        principalTags: overrides.tags ?? { Department: "platform" },
      }),
    });
    return signElement(xml, key, "Assertion");
  }

  const xmlsec1 = (xml: string) => xmlsecVerifies(xml, identity.certificatePem);

  const sp = () =>
    new SAML({
      callbackUrl: SIGN_IN,
      idpCert: identity.certificatePem,
      issuer: AWS_AUDIENCE,
      audience: AWS_AUDIENCE,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
    });

  it("is accepted by xmlsec1 and by node-saml, with the right envelope", async () => {
    const xml = awsResponse();
    expect(await xmlsec1(xml)).toBe(true);
    const { profile } = await sp().validatePostResponseAsync({
      SAMLResponse: Buffer.from(xml).toString("base64"),
    });
    expect(profile?.nameID).toBe("u-7f3a9c");
    expect(profile?.["https://aws.amazon.com/SAML/Attributes/Role"]).toBe(
      `arn:aws:iam::${ACCOUNT}:role/identitycenter/IdC_ReadOnlyAccess_0123456789abcdef,arn:aws:iam::${ACCOUNT}:saml-provider/IdentityCenterOperator_default`,
    );
    // node-saml does not check these; we do.
    const doc = new DOMParser().parseFromString(xml, "text/xml");
    const one = (tag: string) => doc.getElementsByTagNameNS("*", tag).item(0);
    expect(one("Response")?.getAttribute("Destination")).toBe(SIGN_IN);
    expect(one("SubjectConfirmationData")?.getAttribute("Recipient")).toBe(SIGN_IN);
    expect(one("Issuer")?.textContent).toBe(ISSUER);
    expect(one("Audience")?.textContent).toBe(AWS_AUDIENCE);
    const notOnOrAfter = Date.parse(
      one("SubjectConfirmationData")?.getAttribute("NotOnOrAfter") ?? "",
    );
    expect(notOnOrAfter - Date.now()).toBeGreaterThan(4 * 60_000);
    expect(notOnOrAfter - Date.now()).toBeLessThanOrEqual(5 * 60_000);
    expect(one("Assertion")?.getAttribute("ID")).toMatch(/^_[0-9a-f]{32}$/);
    expect(doc.getElementsByTagNameNS("*", "SubjectConfirmation").length).toBe(1);
  });

  it("fails both verifiers when a signed value is changed", async () => {
    const tampered = awsResponse().replace("IdC_ReadOnlyAccess", "IdC_AdministratorAccess");
    expect(await xmlsec1(tampered)).toBe(false);
    await expect(
      sp().validatePostResponseAsync({ SAMLResponse: Buffer.from(tampered).toString("base64") }),
    ).rejects.toThrow(/signature/i);
  });

  it("escapes hostile attribute values and still verifies", async () => {
    const hostile = `<script>alert("x")</script> ' " ]]> &amp;`;
    const xml = awsResponse({ tags: { Department: hostile } });
    expect(xml).not.toContain("<script>");
    expect(await xmlsec1(xml)).toBe(true);
    const { profile } = await sp().validatePostResponseAsync({
      SAMLResponse: Buffer.from(xml).toString("base64"),
    });
    expect(profile?.["https://aws.amazon.com/SAML/Attributes/PrincipalTag:Department"]).toBe(
      hostile,
    );
  });

  it("is refused by node-saml once it has expired", async () => {
    const xml = awsResponse({ now: new Date(Date.now() - 10 * 60_000) });
    expect(await xmlsec1(xml)).toBe(true); // the signature is fine; the time window is not
    await expect(
      sp().validatePostResponseAsync({ SAMLResponse: Buffer.from(xml).toString("base64") }),
    ).rejects.toThrow(/expired|NotOnOrAfter/i);
  });

  it("gets credentials from STS AssumeRoleWithSAML that act in the role's account", async () => {
    const { moto } = env();
    const xml = awsResponse();
    const out = await moto.sts().send(
      new AssumeRoleWithSAMLCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/identitycenter/IdC_ReadOnlyAccess_0123456789abcdef`,
        PrincipalArn: `arn:aws:iam::${ACCOUNT}:saml-provider/IdentityCenterOperator_default`,
        SAMLAssertion: Buffer.from(xml).toString("base64"),
      }),
    );
    const c = out.Credentials;
    expect(c?.AccessKeyId).toBeTruthy();
    const who = await moto
      .sts({
        accessKeyId: c?.AccessKeyId ?? "",
        secretAccessKey: c?.SecretAccessKey ?? "",
        sessionToken: c?.SessionToken ?? "",
      })
      .send(new GetCallerIdentityCommand({}));
    expect(who.Account).toBe(ACCOUNT);
    // moto reports the caller as user/moto; the assumed role and session name come back here:
    expect(out.AssumedRoleUser?.Arn).toContain(
      "IdC_ReadOnlyAccess_0123456789abcdef/alice@example.com",
    );
  });
});
