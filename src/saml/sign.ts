import type { KeyObject } from "node:crypto";
import { SignedXml } from "xml-crypto";

const EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

export interface SigningKey {
  privateKey: KeyObject;
  /** The certificate's base64 DER body, placed in KeyInfo so SPs can match it. */
  certificateBase64: string;
}

/**
 * Signs an element (the Assertion or the Response) in place with RSA-SHA256, SHA-256 digest and
 * exclusive C14N, enveloped, the Signature right after the element's Issuer as SAML requires.
 */
export function signElement(
  xml: string,
  key: SigningKey,
  element: "Assertion" | "Response",
): string {
  const sig = new SignedXml({
    privateKey: key.privateKey,
    signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    canonicalizationAlgorithm: EXC_C14N,
    getKeyInfoContent: () =>
      `<ds:X509Data><ds:X509Certificate>${key.certificateBase64}</ds:X509Certificate></ds:X509Data>`,
  });
  const xpath = `//*[local-name(.)='${element}' and namespace-uri(.)='urn:oasis:names:tc:SAML:2.0:${element === "Assertion" ? "assertion" : "protocol"}']`;
  sig.addReference({
    xpath,
    transforms: [ENVELOPED, EXC_C14N],
    digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256",
  });
  sig.computeSignature(xml, {
    prefix: "ds",
    location: { reference: `${xpath}/*[local-name(.)='Issuer']`, action: "after" },
  });
  return sig.getSignedXml();
}
