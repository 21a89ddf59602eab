import { createServer } from "node:https";
import { AssumeRoleWithSAMLCommand, STSClient } from "@aws-sdk/client-sts";
import { createSigningIdentity } from "../../src/saml/signing-identity.ts";
import { freePort } from "./ports.ts";

/** Escapes text for HTML element content (the stand-in's two pages print caller text). */
const esc = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${String(c.charCodeAt(0))};`);

const ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role";

export interface ConsoleStandIn {
  /** The HTTPS URL to use as the IdentityCenter's spec.aws.signInUrl. */
  url: string;
  /** The raw form bodies it was posted, oldest first. */
  received: string[];
  close(): Promise<void>;
}

/**
 * A loopback stand-in for https://signin.aws.amazon.com/saml (a self-signed certificate, so a
 * browser must be told to accept it). It records each post and, given an STS endpoint (moto),
 * exchanges the SAMLResponse for credentials as the AWS sign-in page would, and shows whose.
 */
export async function startConsoleStandIn(options: { stsEndpoint?: string } = {}) {
  const tls = createSigningIdentity("127.0.0.1", new Date());
  const received: string[] = [];
  const server = createServer({ key: tls.privateKeyPem, cert: tls.certificatePem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      received.push(body);
      void signedInAs(body, options.stsEndpoint).then(
        (who) =>
          res
            .writeHead(200, { "content-type": "text/html; charset=utf-8" })
            .end(`<h1>Signed in to AWS (stand-in)</h1><p id="arn">${esc(who)}</p>`),
        (err: unknown) =>
          res
            .writeHead(403, { "content-type": "text/html; charset=utf-8" })
            .end(`<h1>Sign-in refused</h1><p>${esc(String(err))}</p>`),
      );
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `https://127.0.0.1:${String(port)}/saml`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  } satisfies ConsoleStandIn;
}

async function signedInAs(body: string, stsEndpoint: string | undefined): Promise<string> {
  const saml = new URLSearchParams(body).get("SAMLResponse") ?? "";
  if (!stsEndpoint) return "(not checked)";
  const xml = Buffer.from(saml, "base64").toString();
  const attribute = xml.slice(xml.indexOf(`Name="${ROLE_ATTRIBUTE}"`));
  const pair = /<saml:AttributeValue[^>]*>([^<]+)</.exec(attribute)?.[1] ?? "";
  const [roleArn, principalArn] = pair.split(",");
  const sts = new STSClient({
    region: "us-east-1",
    endpoint: stsEndpoint,
    credentials: { accessKeyId: "unused", secretAccessKey: "unused" },
  });
  const out = await sts.send(
    new AssumeRoleWithSAMLCommand({
      RoleArn: roleArn,
      PrincipalArn: principalArn,
      SAMLAssertion: saml,
    }),
  );
  return out.AssumedRoleUser?.Arn ?? "";
}
