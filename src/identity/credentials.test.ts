import { describe, expect, it } from "vitest";
import {
  addSession,
  beginAttempt,
  FAILURE_DECAY_MS,
  isLocked,
  MAX_SESSIONS,
  passwordAccepted,
  removeSession,
  revokeSessions,
  sessionListed,
  issueSetupToken,
  newRecord,
  ownedBy,
  recordFailure,
  recordFor,
  recordSuccess,
  resetRecord,
  setupTokenValid,
  SETUP_LINK_TTL_MS,
} from "./credentials.ts";

const now = 1_700_000_000_000;

describe("setup tokens", () => {
  it("are valid until they expire, only with the exact token, and stored hashed", () => {
    const { record, token } = issueSetupToken(newRecord("alice"), now);
    expect(JSON.stringify(record)).not.toContain(token);
    expect(setupTokenValid(record, token, now)).toBe(true);
    expect(setupTokenValid(record, `${token}x`, now)).toBe(false);
    expect(setupTokenValid(record, token, now + SETUP_LINK_TTL_MS + 1)).toBe(false);
  });

  it("are revoked by a reset, which also ends sessions", () => {
    const { record, token } = issueSetupToken(
      { ...newRecord("alice"), passwordHash: "x", totpSecret: "y" },
      now,
    );
    const reset = resetRecord(record);
    expect(setupTokenValid(reset, token, now)).toBe(false);
    expect(reset).toEqual({ userName: "alice", failures: 0, sessionEpoch: 2 });
  });
});

describe("lockout", () => {
  it.each([
    { failures: 4, locked: false, lockMs: undefined },
    { failures: 5, locked: true, lockMs: 60_000 },
    { failures: 6, locked: true, lockMs: 120_000 },
    { failures: 8, locked: true, lockMs: 480_000 },
    { failures: 20, locked: true, lockMs: 3_600_000 },
  ])(
    "after $failures failures in a row: locked $locked for $lockMs ms",
    ({ failures, locked, lockMs }) => {
      let record = newRecord("alice");
      for (let i = 0; i < failures; i++) record = recordFailure(record, now, 5);
      expect(isLocked(record, now)).toBe(locked);
      if (lockMs !== undefined) {
        expect(record.lockedUntil).toBe(now + lockMs);
        expect(isLocked(record, now + lockMs)).toBe(false);
      }
    },
  );

  it("a success clears the count", () => {
    let record = newRecord("alice");
    for (let i = 0; i < 4; i++) record = recordFailure(record, now, 5);
    record = recordSuccess(record);
    expect(recordFailure(record, now, 5)).toMatchObject({ failures: 1 });
  });
});

describe("decaying failures", () => {
  it("forgive one failure per decay period, so one guess an hour never locks", () => {
    let record = newRecord("alice");
    let t = now;
    for (let i = 0; i < 5; i++) record = recordFailure(record, t, 5);
    expect(isLocked(record, t)).toBe(true);
    for (let hour = 1; hour <= 24; hour++) {
      t = now + hour * 3600_000;
      record = recordFailure(record, t, 5);
      expect(isLocked(record, t + 1)).toBe(false);
    }
    expect(record.failures).toBe(1);
  });

  it("count an attempt before its check and refuse a locked name without counting", () => {
    let record = newRecord("alice");
    const allowed: boolean[] = [];
    for (let i = 0; i < 7; i++) {
      const attempt = beginAttempt(record, now, 5);
      allowed.push(attempt.allowed);
      record = attempt.state;
    }
    expect(allowed).toEqual([true, true, true, true, true, false, false]);
    expect(record.failures).toBe(5);
    expect(beginAttempt(record, now + FAILURE_DECAY_MS * 10, 5).state.failures).toBe(1);
  });

  it("take back the counted attempt when the password is right, keeping earlier failures", () => {
    let record = newRecord("alice");
    for (let i = 0; i < 5; i++) record = beginAttempt(record, now, 5).state;
    const accepted = passwordAccepted(record);
    expect([accepted.failures, isLocked(accepted, now)]).toEqual([4, false]);
  });
});

describe("server-side sessions", () => {
  it("are honoured while listed and unexpired, and end with sign-out or revocation", () => {
    let record = addSession(newRecord("alice"), { id: "a", expiresAt: now + 1000 }, now);
    record = addSession(record, { id: "b", expiresAt: now + 1000 }, now);
    expect(sessionListed(record, "a", now)).toBe(true);
    expect(sessionListed(record, "a", now + 1000)).toBe(false);
    expect(sessionListed(removeSession(record, "a"), "a", now)).toBe(false);
    expect(sessionListed(removeSession(record, "a"), "b", now)).toBe(true);
    const revoked = revokeSessions(record);
    expect([sessionListed(revoked, "b", now), revoked.sessionEpoch]).toEqual([false, 2]);
  });

  it("keep at most the newest few per user", () => {
    let record = newRecord("alice");
    for (let i = 0; i < MAX_SESSIONS + 3; i++)
      record = addSession(record, { id: String(i), expiresAt: now + 1000 }, now);
    expect(record.sessions?.length).toBe(MAX_SESSIONS);
    expect(sessionListed(record, "0", now)).toBe(false);
    expect(sessionListed(record, String(MAX_SESSIONS + 2), now)).toBe(true);
  });
});

describe("records belong to a User's uid, not to a userName", () => {
  it("give a User created again with the same userName nothing of the old one's (password, link, sessions)", () => {
    const { record: old } = issueSetupToken(
      { ...newRecord("alice", "uid-1"), passwordHash: "x", totpSecret: "y", sessionEpoch: 4 },
      now,
    );
    expect(ownedBy(old, "uid-1")).toBe(true);
    expect(ownedBy(old, "uid-2")).toBe(false);
    const fresh = recordFor(old, "alice", "uid-2");
    expect(fresh).toEqual({ userName: "alice", userUid: "uid-2", failures: 0, sessionEpoch: 5 });
    expect(recordFor(old, "alice", "uid-1")).toBe(old);
    expect(recordFor(undefined, "alice", "uid-2")).toEqual(newRecord("alice", "uid-2"));
  });

  it("never hand a record of no known uid (written before the binding) to anyone", () => {
    expect(ownedBy(newRecord("alice"), "uid-1")).toBe(false);
    expect(resetRecord(newRecord("alice", "uid-1")).userUid).toBe("uid-1");
  });
});
