import { describe, expect, it } from "vitest";
import {
  isLocked,
  issueSetupToken,
  newRecord,
  recordFailure,
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
