import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Verifies a signed SAML document with xmlsec1 against the IdP certificate only
 * (`--enabled-key-data rsa` stops it from trusting a certificate inside KeyInfo).
 */
export async function xmlsecVerifies(
  xml: string,
  certificatePem: string,
  element: "Assertion" | "Response" = "Assertion",
): Promise<boolean> {
  const dir = await mkdtemp(path.join(tmpdir(), "idc-xmlsec-"));
  try {
    await writeFile(path.join(dir, "idp.crt"), certificatePem);
    await writeFile(path.join(dir, "doc.xml"), xml);
    const idAttr =
      element === "Assertion"
        ? "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
        : "urn:oasis:names:tc:SAML:2.0:protocol:Response";
    return await run("xmlsec1", [
      "--verify",
      "--enabled-key-data",
      "rsa",
      "--pubkey-cert-pem",
      path.join(dir, "idp.crt"),
      "--id-attr:ID",
      idAttr,
      path.join(dir, "doc.xml"),
    ]).then(
      () => true,
      () => false,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
