// Benchmark (not a test): signed AWS console responses per second on one core, side by side
// with raw RSA-2048 signatures (crypto.sign) and samlify's createLoginResponse; and password
// sign-ins per second at the chosen scrypt cost against raw scrypt verifications.
//
//   npm run bench:saml-signing        (BENCH_SECONDS=5 per measurement by default)
import { createPrivateKey, sign } from "node:crypto";
import * as samlify from "samlify";
import { AWS_AUDIENCE, awsSignInAttributes } from "../src/saml/aws-sign-in.ts";
import { buildResponse } from "../src/saml/response.ts";
import { signElement } from "../src/saml/sign.ts";
import { certificateBase64, createSigningIdentity } from "../src/saml/signing-identity.ts";
import { hashPassword, verifyPassword } from "../src/portal/password.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const SIGN_IN = "https://signin.aws.amazon.com/saml";

async function rate(name: string, op: () => unknown): Promise<number> {
  const end = Date.now() + SECONDS * 1000;
  let n = 0;
  while (Date.now() < end) {
    await op();
    n++;
  }
  const perSecond = n / SECONDS;
  console.log(`${name}: ${perSecond.toFixed(1)}/s`);
  return perSecond;
}

const identity = createSigningIdentity("sso.example.com", new Date());
const privateKey = createPrivateKey(identity.privateKeyPem);
const key = { privateKey, certificateBase64: certificateBase64(identity.certificatePem) };

function ourResponse(): string {
  const { xml } = buildResponse({
    issuer: "https://sso.example.com/saml/metadata",
    destination: SIGN_IN,
    audience: AWS_AUDIENCE,
    nameId: "u-7f3a9c",
    nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    now: new Date(),
    attributes: awsSignInAttributes({
      roleArn: "arn:aws:iam::111111111111:role/identitycenter/IdC_ReadOnlyAccess_0123456789abcdef",
      samlProviderArn: "arn:aws:iam::111111111111:saml-provider/IdentityCenterOperator_default",
      roleSessionName: "alice",
      sessionDurationSeconds: 3600,
      principalTags: { Department: "platform" },
    }),
  });
  return signElement(xml, key, "Assertion");
}

samlify.setSchemaValidator({ validate: () => Promise.resolve("skipped") });
const idp = samlify.IdentityProvider({
  entityID: "https://sso.example.com/saml/metadata",
  signingCert: identity.certificatePem,
  privateKey: identity.privateKeyPem,
  isAssertionEncrypted: false,
  singleSignOnService: [
    {
      Binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
      Location: "https://sso.example.com/saml/sso",
    },
  ],
});
const sp = samlify.ServiceProvider({
  entityID: AWS_AUDIENCE,
  wantAssertionsSigned: true,
  assertionConsumerService: [
    { Binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", Location: SIGN_IN },
  ],
});

const raw = await rate("raw RSA-2048 signatures (crypto.sign, sha256)", () =>
  sign("sha256", Buffer.from("x".repeat(64)), privateKey),
);
const ours = await rate("our signed AWS responses (build + sign)", ourResponse);
const theirs = await rate("samlify createLoginResponse", () =>
  idp.createLoginResponse(sp, { extract: { request: { id: "_r" } } }, "post", {
    email: "alice@example.com",
  }),
);
const stored = await hashPassword("correct horse battery staple");
const hashes = await rate("raw scrypt verifications (N=2^17, r=8, p=1)", () =>
  verifyPassword("correct horse battery staple", stored),
);
console.log(
  JSON.stringify({
    rawRsaPerSecond: Math.round(raw),
    responsesPerSecond: Math.round(ours),
    samlifyPerSecond: Math.round(theirs),
    responseToRawRatio: Number((ours / raw).toFixed(2)),
    scryptVerificationsPerSecond: Number(hashes.toFixed(1)),
  }),
);
