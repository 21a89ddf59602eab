import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** One user's sign-in state, kept in a Secret of the operator's namespace (never in the CRs). */
export interface CredentialRecord {
  userName: string;
  passwordHash?: string;
  totpSecret?: string;
  totpLastStep?: number;
  /** Failed sign-ins in a row, and until when the account is locked (ms since the epoch). */
  failures: number;
  lockedUntil?: number;
  /** Bumped by reset: sessions carry the epoch they were made in and die when it moves on. */
  sessionEpoch: number;
  /** A pending one-time setup link: only its hash is stored. */
  setup?: { tokenHash: string; expiresAt: number };
}

export const SETUP_LINK_TTL_MS = 7 * 24 * 3600_000;
const LOCK_BASE_MS = 60_000;
const LOCK_MAX_MS = 3600_000;

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export function newRecord(userName: string): CredentialRecord {
  return { userName, failures: 0, sessionEpoch: 1 };
}

/** Issues a single-use setup token (returned once, stored hashed), valid 7 days. */
export function issueSetupToken(
  record: CredentialRecord,
  now: number,
): { record: CredentialRecord; token: string } {
  const token = randomBytes(32).toString("base64url");
  return {
    record: { ...record, setup: { tokenHash: sha256(token), expiresAt: now + SETUP_LINK_TTL_MS } },
    token,
  };
}

export function setupTokenValid(record: CredentialRecord, token: string, now: number): boolean {
  const setup = record.setup;
  if (!setup || now > setup.expiresAt) return false;
  const a = Buffer.from(sha256(token), "hex");
  const b = Buffer.from(setup.tokenHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A reset revokes everything: password, authenticator, pending link and every session. */
export function resetRecord(record: CredentialRecord): CredentialRecord {
  return { userName: record.userName, failures: 0, sessionEpoch: record.sessionEpoch + 1 };
}

export function isLocked(record: CredentialRecord, now: number): boolean {
  return record.lockedUntil !== undefined && now < record.lockedUntil;
}

/**
 * Counts a failed sign-in. From the threshold on, each further failure locks the account for
 * twice as long as the last (1 min, 2 min, ... at most 1 h).
 */
export function recordFailure(
  record: CredentialRecord,
  now: number,
  threshold: number,
): CredentialRecord {
  const failures = record.failures + 1;
  if (failures < threshold) return { ...record, failures };
  const lockMs = Math.min(LOCK_MAX_MS, LOCK_BASE_MS * 2 ** (failures - threshold));
  return { ...record, failures, lockedUntil: now + lockMs };
}

export function recordSuccess(record: CredentialRecord): CredentialRecord {
  const next = { ...record, failures: 0 };
  delete next.lockedUntil;
  return next;
}
