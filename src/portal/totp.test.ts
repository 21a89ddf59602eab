import { describe, expect, it } from "vitest";
import { base32Decode, base32Encode, otpauthUri, totp, verifyTotp } from "./totp.ts";

// RFC 6238 appendix B test vectors (8 digits).
const seeds = {
  sha1: Buffer.from("12345678901234567890"),
  sha256: Buffer.from("12345678901234567890123456789012"),
  sha512: Buffer.from("1234567890123456789012345678901234567890123456789012345678901234"),
};

describe("totp (RFC 6238 vectors)", () => {
  it.each([
    { t: 59, sha1: "94287082", sha256: "46119246", sha512: "90693936" },
    { t: 1111111109, sha1: "07081804", sha256: "68084774", sha512: "25091201" },
    { t: 1111111111, sha1: "14050471", sha256: "67062674", sha512: "99943326" },
    { t: 1234567890, sha1: "89005924", sha256: "91819424", sha512: "93441116" },
    { t: 2000000000, sha1: "69279037", sha256: "90698825", sha512: "38618901" },
    { t: 20000000000, sha1: "65353130", sha256: "77737706", sha512: "47863826" },
  ])("T=$t", ({ t, sha1, sha256, sha512 }) => {
    const at = new Date(t * 1000);
    expect(totp(seeds.sha1, at, 8, "sha1")).toBe(sha1);
    expect(totp(seeds.sha256, at, 8, "sha256")).toBe(sha256);
    expect(totp(seeds.sha512, at, 8, "sha512")).toBe(sha512);
  });
});

describe("verifyTotp", () => {
  const secret = base32Encode(seeds.sha1);
  const now = new Date(1_700_000_000_000);
  const code = (offsetSteps: number) =>
    totp(seeds.sha1, new Date(now.getTime() + offsetSteps * 30_000));

  it.each([
    { name: "current step", offset: 0, ok: true },
    { name: "one step behind (drift)", offset: -1, ok: true },
    { name: "one step ahead (drift)", offset: 1, ok: true },
    { name: "two steps behind", offset: -2, ok: false },
  ])("$name -> $ok", ({ offset, ok }) => {
    expect(verifyTotp(secret, code(offset), now, undefined) !== undefined).toBe(ok);
  });

  it("refuses a replayed code", () => {
    const step = verifyTotp(secret, code(0), now, undefined);
    expect(step).toBeDefined();
    expect(verifyTotp(secret, code(0), now, step)).toBeUndefined();
  });

  it.each(["", "12345", "1234567", "abcdef"])("refuses malformed code %j", (bad) => {
    expect(verifyTotp(secret, bad, now, undefined)).toBeUndefined();
  });

  it("round-trips base32 and builds an otpauth URI", () => {
    expect(base32Decode(base32Encode(seeds.sha1))).toEqual(seeds.sha1);
    expect(base32Encode(Buffer.from("foobar"))).toBe("MZXW6YTBOI"); // RFC 4648 vector
    expect(otpauthUri("Example SSO", "alice", "JBSWY3DPEHPK3PXP")).toBe(
      "otpauth://totp/Example%20SSO%3Aalice?secret=JBSWY3DPEHPK3PXP&issuer=Example+SSO&algorithm=SHA1&digits=6&period=30",
    );
  });
});
