import { createHash, timingSafeEqual } from "node:crypto";

/** RFC 7636 S256: base64url(sha256(verifier)) without padding. */
export function s256Challenge(verifier: string): string {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

/** The verifier's shape (RFC 7636 §4.1): 43 to 128 unreserved characters. */
export function validVerifier(verifier: string): boolean {
  return /^[A-Za-z0-9._~-]{43,128}$/.test(verifier);
}

export function verifierMatches(verifier: string, challenge: string): boolean {
  if (!validVerifier(verifier)) return false;
  const a = Buffer.from(s256Challenge(verifier));
  const b = Buffer.from(challenge);
  return a.length === b.length && timingSafeEqual(a, b);
}
