import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

export interface SigningIdentity {
  privateKeyPem: string;
  certificatePem: string;
}

const VALIDITY_YEARS = 10;

/**
 * A new RSA-2048 key and a self-signed X.509 certificate (SHA-256, 10 years) for signing SAML.
 * AWS and most service providers trust the certificate in the IdP metadata as is, so no CA.
 */
export function createSigningIdentity(commonName: string, now: Date): SigningIdentity {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(
    publicKey.export({ type: "spki", format: "pem" }).toString(),
  );
  // A positive 16-byte serial.
  cert.serialNumber = `01${randomBytes(15).toString("hex")}`;
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now);
  cert.validity.notAfter.setUTCFullYear(now.getUTCFullYear() + VALIDITY_YEARS);
  const subject = [
    { name: "commonName", value: commonName.slice(0, 64) },
    { name: "organizationName", value: "Identity Center Operator" },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, critical: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKeyPem), forge.md.sha256.create());
  return { privateKeyPem, certificatePem: forge.pki.certificateToPem(cert) };
}

/** The base64 DER body of a PEM certificate, as XML signatures and metadata carry it. */
export function certificateBase64(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
}

export function certificateFingerprint(pem: string): string {
  const der = Buffer.from(certificateBase64(pem), "base64");
  return createHash("sha256").update(der).digest("hex").toUpperCase().match(/../g)?.join(":") ?? "";
}

export function certificateNotAfter(pem: string): Date {
  return forge.pki.certificateFromPem(pem).validity.notAfter;
}
