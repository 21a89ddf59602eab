// Benchmark (not a test): signed AWS console responses per second on one core, side by side
// with raw RSA-2048 signatures (crypto.sign) and samlify's createLoginResponse.
//
//   npm run bench:saml-signing        (BENCH_SECONDS=10 per measurement by default)
//
// The build machine is shared, so the measurements take turns in 200 ms slices: a neighbour
// taking the core for a while slows all of them alike, and the ratios stay meaningful. Each is
// also reported per second of this thread's CPU time, which a neighbour hardly changes.
import { createPrivateKey, sign } from "node:crypto";
import * as samlify from "samlify";
import { AWS_AUDIENCE, awsSignInAttributes } from "../src/saml/aws-sign-in.ts";
import { buildResponse, buildSignedResponse, type ResponseInput } from "../src/saml/response.ts";
import { signElement } from "../src/saml/sign.ts";
import { certificateBase64, createSigningIdentity } from "../src/saml/signing-identity.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SLICE_MS = 200;
const SIGN_IN = "https://signin.aws.amazon.com/saml";

interface Tally {
  ops: number;
  wallMs: number;
  cpuMs: number;
}

async function slice(op: () => unknown, tally: Tally): Promise<void> {
  const cpu = process.threadCpuUsage();
  const start = performance.now();
  do {
    await op();
    tally.ops++;
  } while (performance.now() - start < SLICE_MS);
  tally.wallMs += performance.now() - start;
  const used = process.threadCpuUsage(cpu);
  tally.cpuMs += (used.user + used.system) / 1000;
}

const identity = createSigningIdentity("sso.example.com", new Date());
const privateKey = createPrivateKey(identity.privateKeyPem);
const key = { privateKey, certificateBase64: certificateBase64(identity.certificatePem) };

const awsInput = (): ResponseInput => ({
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

const measures = {
  "raw RSA-2048 signatures (crypto.sign, sha256)": () =>
    sign("sha256", Buffer.from("x".repeat(64)), privateKey),
  // What the portal should call: the Assertion signed on the DOM as built, serialized once.
  "our signed AWS responses (buildSignedResponse)": () => buildSignedResponse(awsInput(), key),
  // The same result from serialized XML: one extra parse.
  "our signed AWS responses (buildResponse + signElement)": () =>
    signElement(buildResponse(awsInput()).xml, key, "Assertion"),
  "samlify createLoginResponse": () =>
    idp.createLoginResponse(sp, { extract: { request: { id: "_r" } } }, "post", {
      email: "alice@example.com",
    }),
};
const tallies = Object.entries(measures).map(([name, op]) => ({
  name,
  op,
  tally: { ops: 0, wallMs: 0, cpuMs: 0 },
}));
for (let i = 0; i < (SECONDS * 1000) / SLICE_MS; i++) {
  for (const { op, tally } of tallies) await slice(op, tally);
}
const rates = tallies.map(({ name, tally }) => {
  const perSecond = (tally.ops * 1000) / tally.wallMs;
  const perCpuSecond = (tally.ops * 1000) / tally.cpuMs;
  console.log(`${name}: ${perSecond.toFixed(1)}/s, ${perCpuSecond.toFixed(1)}/CPU-s`);
  return { perSecond, perCpuSecond };
});
const [raw, ours, oursFromXml, theirs] = rates as [
  (typeof rates)[0],
  (typeof rates)[0],
  (typeof rates)[0],
  (typeof rates)[0],
];
const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
console.log(
  JSON.stringify({
    rawRsaPerSecond: Math.round(raw.perSecond),
    responsesPerSecond: Math.round(ours.perSecond),
    responsesFromXmlPerSecond: Math.round(oursFromXml.perSecond),
    samlifyPerSecond: Math.round(theirs.perSecond),
    responseToRawRatio: ratio(ours.perSecond, raw.perSecond),
    responseFromXmlToRawRatio: ratio(oursFromXml.perSecond, raw.perSecond),
    responseToRawRatioCpu: ratio(ours.perCpuSecond, raw.perCpuSecond),
    responseFromXmlToRawRatioCpu: ratio(oursFromXml.perCpuSecond, raw.perCpuSecond),
  }),
);
