import { describe, expect, it } from "vitest";
import { expiryFrom, newScimToken, recordsFromSecretData, verifyScimToken } from "./tokens.ts";

const now = new Date("2026-03-01T00:00:00Z");

describe("SCIM tokens", () => {
  it("stores only a hash and finds the token's name by it", () => {
    const a = newScimToken(now, new Date("2027-03-01T00:00:00Z"));
    const b = newScimToken(now);
    expect(JSON.stringify(a.record)).not.toContain(a.token.slice(8));
    const records = { entra: a.record, okta: b.record };
    expect(verifyScimToken(a.token, records, now)).toBe("entra");
    expect(verifyScimToken(b.token, records, now)).toBe("okta");
    expect(verifyScimToken(`${a.token}x`, records, now)).toBeUndefined();
    expect(verifyScimToken("", records, now)).toBeUndefined();
  });

  it("refuses an expired token (a leaked old token stops working)", () => {
    const t = newScimToken(now, new Date("2026-03-02T00:00:00Z"));
    expect(
      verifyScimToken(t.token, { t: t.record }, new Date("2026-03-02T00:00:01Z")),
    ).toBeUndefined();
  });

  it("reads --expires", () => {
    expect(expiryFrom(now, undefined)?.toISOString()).toBe("2027-03-01T00:00:00.000Z");
    expect(expiryFrom(now, "30d")?.toISOString()).toBe("2026-03-31T00:00:00.000Z");
    expect(expiryFrom(now, "6m")?.toISOString()).toBe("2026-09-01T00:00:00.000Z");
    expect(expiryFrom(now, "never")).toBeUndefined();
    expect(() => expiryFrom(now, "soon")).toThrow(/--expires/);
  });

  it("skips Secret entries that are not token records", () => {
    const t = newScimToken(now);
    const data = {
      good: Buffer.from(JSON.stringify(t.record)).toString("base64"),
      bad: Buffer.from("not json").toString("base64"),
    };
    expect(Object.keys(recordsFromSecretData(data))).toEqual(["good"]);
  });
});
