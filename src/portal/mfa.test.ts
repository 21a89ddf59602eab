import { Secret, TOTP } from "otpauth";
import { describe, expect, it } from "vitest";
import { newTotpSecret, otpauthUri, verifyTotp } from "./mfa.ts";

const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // RFC 6238's seed "12345678901234567890"
const now = new Date(1_700_000_000_000);
const code = (offsetSteps: number) =>
  new TOTP({ secret: Secret.fromBase32(secret) }).generate({
    timestamp: now.getTime() + offsetSteps * 30_000,
  });

describe("verifyTotp", () => {
  it("accepts RFC 6238's SHA-1 vector (T = 59 s, the last 6 of 94287082)", () => {
    expect(verifyTotp(secret, "287082", new Date(59_000), undefined)).toBe(1);
  });

  it.each([
    { name: "current step", offset: 0, ok: true },
    { name: "one step behind (drift)", offset: -1, ok: true },
    { name: "one step ahead (drift)", offset: 1, ok: true },
    { name: "two steps behind", offset: -2, ok: false },
    { name: "two steps ahead", offset: 2, ok: false },
  ])("$name -> $ok", ({ offset, ok }) => {
    expect(verifyTotp(secret, code(offset), now, undefined) !== undefined).toBe(ok);
  });

  it("refuses a replayed code, and a code of a step before the last one used", () => {
    const step = verifyTotp(secret, code(0), now, undefined);
    expect(step).toBe(Math.floor(now.getTime() / 30_000));
    expect(verifyTotp(secret, code(0), now, step)).toBeUndefined();
    expect(verifyTotp(secret, code(-1), now, step)).toBeUndefined();
    expect(verifyTotp(secret, code(1), now, step)).toBe((step ?? 0) + 1);
  });

  it.each(["", "12345", "1234567", "abcdef", " 12345"])("refuses malformed code %j", (bad) => {
    expect(verifyTotp(secret, bad, now, undefined)).toBeUndefined();
  });
});

describe("TOTP secrets and URIs", () => {
  it("makes 160-bit base32 secrets, a new one each time", () => {
    const a = newTotpSecret();
    expect(a).toMatch(/^[A-Z2-7]{32}$/);
    expect(a).not.toBe(newTotpSecret());
  });

  it("builds the otpauth URI authenticator apps read", () => {
    const uri = new URL(otpauthUri("Example SSO", "alice", "JBSWY3DPEHPK3PXP"));
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.host).toBe("totp");
    expect(decodeURIComponent(uri.pathname)).toBe("/Example SSO:alice");
    expect(Object.fromEntries(uri.searchParams)).toEqual({
      secret: "JBSWY3DPEHPK3PXP",
      issuer: "Example SSO",
      algorithm: "SHA1",
      digits: "6",
      period: "30",
    });
  });
});
