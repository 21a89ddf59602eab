import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  openSession,
  pendingMfaValid,
  PENDING_MFA_MS,
  sealSession,
  sessionBelongsTo,
  sessionKeyId,
  sessionValid,
  type Session,
} from "./session-cookie.ts";

const raw = randomBytes(32);
const key = [{ id: sessionKeyId(raw), key: raw }];
const t0 = 1_700_000_000_000;
const session: Session = {
  userName: "alice",
  epoch: 3,
  issuedAt: t0,
  lastSeen: t0,
  csrf: "c".repeat(32),
};
const policy = { absoluteMs: 8 * 3600_000, idleMs: 3600_000 };

/** How cookies were sealed before the key was kept as a KeyObject: replicas must agree. */
function sealedTheOldWay(value: Session, k: { id: string; key: Buffer }): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", k.key, iv);
  cipher.setAAD(Buffer.from(k.id));
  const body = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
  return `${k.id}.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url")}`;
}
function openedTheOldWay(cookie: string, k: { id: string; key: Buffer }): unknown {
  const raw = Buffer.from(cookie.slice(cookie.indexOf(".") + 1), "base64url");
  const decipher = createDecipheriv("aes-256-gcm", k.key, raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(k.id));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  const text = Buffer.concat([
    decipher.update(raw.subarray(12, raw.length - 16)),
    decipher.final(),
  ]);
  return JSON.parse(text.toString("utf8"));
}

describe("session cookie", () => {
  it("opens cookies sealed as before and seals cookies the earlier code opens (a rolling update keeps sessions)", () => {
    const [k] = key;
    if (!k) throw new Error("no key");
    const withText = { ...session, userName: "zoë 東京 🙂" };
    expect(openSession(sealedTheOldWay(withText, k), key)).toEqual(withText);
    expect(openedTheOldWay(sealSession(withText, key), k)).toEqual(withText);
    // A fresh IV every time.
    expect(sealSession(session, key)).not.toBe(sealSession(session, key));
  });

  it("round-trips with the same key and is not readable text", () => {
    const cookie = sealSession(session, key);
    expect(cookie).not.toContain("alice");
    expect(openSession(cookie, key)).toEqual(session);
  });

  it("refuses another key, a flipped bit and garbage", () => {
    const cookie = sealSession(session, key);
    expect(openSession(cookie, [{ id: key[0]?.id ?? "", key: randomBytes(32) }])).toBeUndefined();
    const [id, body] = cookie.split(".");
    const bytes = Buffer.from(body ?? "", "base64url");
    bytes[20] = (bytes[20] ?? 0) ^ 1;
    expect(openSession(`${id ?? ""}.${bytes.toString("base64url")}`, key)).toBeUndefined();
    expect(openSession("not-a-cookie", key)).toBeUndefined();
    expect(openSession("", key)).toBeUndefined();
  });

  it("opens cookies of every key in the ring, seals with the first, and refuses retired keys", () => {
    const next = randomBytes(32);
    const rotated = [{ id: sessionKeyId(next), key: next }, ...key];
    const old = sealSession(session, key);
    expect(openSession(old, rotated)).toEqual(session);
    const fresh = sealSession(session, rotated);
    expect(fresh.startsWith(`${sessionKeyId(next)}.`)).toBe(true);
    expect(openSession(fresh, rotated.slice(0, 1))).toEqual(session);
    expect(openSession(old, rotated.slice(0, 1))).toBeUndefined();
    // The id is authenticated: a cookie relabelled with another key's id does not open.
    expect(openSession(old.replace(/^[^.]+/, sessionKeyId(next)), rotated)).toBeUndefined();
  });

  it("lets the password step wait for the code a few minutes, within one credential epoch", () => {
    const pending = { ...session, pendingMfa: true };
    expect(pendingMfaValid(pending, 3, t0 + PENDING_MFA_MS)).toBe(true);
    expect(pendingMfaValid(pending, 3, t0 + PENDING_MFA_MS + 1)).toBe(false);
    expect(pendingMfaValid(pending, 4, t0 + 1000)).toBe(false);
    expect(pendingMfaValid(session, 3, t0 + 1000)).toBe(false);
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

describe("a session belongs to the User who signed in", () => {
  it("does not pass to another User given the same userName (deleted and created again, renamed)", () => {
    const bound: Session = { ...session, uid: "uid-1" };
    expect(sessionBelongsTo(bound, "uid-1")).toBe(true);
    expect(sessionBelongsTo(bound, "uid-2")).toBe(false);
    expect(sessionBelongsTo(bound, undefined)).toBe(false);
    // A cookie sealed before sessions carried a uid belongs to no one.
    expect(sessionBelongsTo(session, "uid-1")).toBe(false);
  });
});
