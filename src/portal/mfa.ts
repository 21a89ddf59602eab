import { Secret, TOTP } from "otpauth";

// What every authenticator app takes without asking: RFC 6238 with HMAC-SHA1, 6 digits, 30 s.
const SETTINGS = { algorithm: "SHA1", digits: 6, period: 30 } as const;

function totpFor(secretBase32: string, issuer = "", account = "") {
  return new TOTP({ ...SETTINGS, issuer, label: account, secret: Secret.fromBase32(secretBase32) });
}

/** A new 160-bit TOTP secret (RFC 4226's recommended length), base32 as authenticator apps expect. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/**
 * Checks a code against the current step and one step either side (clock drift), and refuses a
 * step at or before the last one used (replay). Returns the accepted step, to be stored as the
 * last used one.
 */
export function verifyTotp(
  secretBase32: string,
  code: string,
  now: Date,
  lastUsedStep: number | undefined,
): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const totp = totpFor(secretBase32);
  const timestamp = now.getTime();
  const delta = totp.validate({ token: code, timestamp, window: 1 });
  if (delta === null) return undefined;
  const step = totp.counter({ timestamp }) + delta;
  return lastUsedStep !== undefined && step <= lastUsedStep ? undefined : step;
}

/** The otpauth:// URI authenticator apps read from a QR code. */
export function otpauthUri(issuer: string, account: string, secretBase32: string): string {
  return totpFor(secretBase32, issuer, account).toString();
}
