import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { openSession, sealSession, sessionValid, type Session } from "./session-cookie.ts";

const key = randomBytes(32);
const t0 = 1_700_000_000_000;
const session: Session = {
  userName: "alice",
  epoch: 3,
  issuedAt: t0,
  lastSeen: t0,
  csrf: "c".repeat(32),
};
const policy = { absoluteMs: 8 * 3600_000, idleMs: 3600_000 };

describe("session cookie", () => {
  it("round-trips with the same key and is not readable text", () => {
    const cookie = sealSession(session, key);
    expect(cookie).not.toContain("alice");
    expect(openSession(cookie, key)).toEqual(session);
  });

  it("refuses another key, a flipped bit and garbage", () => {
    const cookie = sealSession(session, key);
    expect(openSession(cookie, randomBytes(32))).toBeUndefined();
    const raw = Buffer.from(cookie, "base64url");
    raw[20] = (raw[20] ?? 0) ^ 1;
    expect(openSession(raw.toString("base64url"), key)).toBeUndefined();
    expect(openSession("not-a-cookie", key)).toBeUndefined();
    expect(openSession("", key)).toBeUndefined();
  });

  it.each([
    { name: "fresh", change: {}, now: t0 + 1000, epoch: 3, valid: true },
    { name: "idle too long", change: {}, now: t0 + 3600_001, epoch: 3, valid: false },
    {
      name: "active but past the absolute limit",
      change: { lastSeen: t0 + 8 * 3600_000 },
      now: t0 + 8 * 3600_001,
      epoch: 3,
      valid: false,
    },
    {
      name: "epoch bumped (reset or deactivated)",
      change: {},
      now: t0 + 1000,
      epoch: 4,
      valid: false,
    },
  ])("$name -> $valid", ({ change, now, epoch, valid }) => {
    expect(sessionValid({ ...session, ...change }, policy, epoch, now)).toBe(valid);
  });
});
