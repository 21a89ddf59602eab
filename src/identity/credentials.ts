import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Failed sign-ins, decaying over time, and until when they lock the name (ms since the epoch). */
export interface FailureState {
  failures: number;
  /** When `failures` was last counted; each FAILURE_DECAY_MS since then forgives one. */
  failuresAt?: number;
  lockedUntil?: number;
}

/** A signed-in session the portal still honours: its id (in the cookie) and when it ends. */
export interface SessionEntry {
  id: string;
  expiresAt: number;
}

/** One user's sign-in state, kept in a Secret of the credentials namespace (never in the CRs). */
export interface CredentialRecord extends FailureState {
  userName: string;
  /**
   * The uid of the User the record was made for. A User deleted and created again with the
   * same userName (or another User renamed to it) is someone else: the record is not theirs.
   * Absent only in records written before records were bound to a uid.
   */
  userUid?: string;
  passwordHash?: string;
  totpSecret?: string;
  totpLastStep?: number;
  /** Bumped by reset: sessions carry the epoch they were made in and die when it moves on. */
  sessionEpoch: number;
  /**
   * The sessions signed in and not signed out: a cookie is honoured only while its id is here,
   * so sign-out, a new password, a reset and deactivation end sessions on the server.
   */
  sessions?: SessionEntry[];
  /** A pending one-time setup link: only its hash is stored. */
  setup?: { tokenHash: string; expiresAt: number };
  /** CLI and SDK sign-ins (device or PKCE) the user approved; a reset drops them all. */
  ssoGrants?: SsoGrant[];
}

/**
 * What the session check reads of a credential record, and nothing else: whose record it is,
 * the epoch and the listed sessions. No password hash, authenticator, setup link or grant: a
 * cache of every user's record holds only this (see docs/adr/0021-portal-credential-cache.md).
 */
export type SessionRecord = Pick<CredentialRecord, "userUid" | "sessionEpoch" | "sessions">;

/** The session check's part of a record, as a new object that shares nothing secret. */
export function sessionRecordOf(record: CredentialRecord): SessionRecord {
  return {
    ...(record.userUid !== undefined ? { userUid: record.userUid } : {}),
    sessionEpoch: record.sessionEpoch,
    ...(record.sessions
      ? { sessions: record.sessions.map((s) => ({ id: s.id, expiresAt: s.expiresAt })) }
      : {}),
  };
}

/** One approved CLI sign-in: its refresh tokens are valid while it lives. */
export interface SsoGrant {
  id: string;
  clientId: string;
  clientName: string;
  createdAt: number;
  expiresAt: number;
  /** Set once an authorization code for it has been exchanged (codes are single use). */
  redeemed?: boolean;
}

export const SETUP_LINK_TTL_MS = 7 * 24 * 3600_000;

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export function newRecord(userName: string, userUid?: string): CredentialRecord {
  return { userName, ...(userUid ? { userUid } : {}), failures: 0, sessionEpoch: 1 };
}

/** Whether a record belongs to the User with this uid (a record of no known uid belongs to none). */
export function ownedBy(record: Pick<CredentialRecord, "userUid">, userUid: string): boolean {
  return record.userUid !== undefined && record.userUid === userUid;
}

/**
 * The record to build on for the User with `userUid`: the stored one if it is theirs, else a
 * fresh one whose session epoch is past the stored one's, so nothing of an earlier holder of
 * the userName (password, authenticator, setup link, sessions) carries over.
 */
export function recordFor(
  stored: CredentialRecord | undefined,
  userName: string,
  userUid: string,
): CredentialRecord {
  if (stored && ownedBy(stored, userUid)) return stored;
  return { ...newRecord(userName, userUid), sessionEpoch: (stored?.sessionEpoch ?? 0) + 1 };
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
  return {
    userName: record.userName,
    ...(record.userUid ? { userUid: record.userUid } : {}),
    failures: 0,
    sessionEpoch: record.sessionEpoch + 1,
  };
}

/** Ends every session of the user (new password, deactivation): the epoch moves on. */
export function revokeSessions(record: CredentialRecord): CredentialRecord {
  const next = { ...record, sessionEpoch: record.sessionEpoch + 1 };
  delete next.sessions;
  return next;
}

/** How long one counted failure weighs: one is forgiven per period without a new one. */
export const FAILURE_DECAY_MS = 10 * 60_000;
const LOCK_BASE_MS = 60_000;
const LOCK_MAX_MS = 3600_000;

export function isLocked(state: FailureState, now: number): boolean {
  return state.lockedUntil !== undefined && now < state.lockedUntil;
}

/** The failures that still count now: one fewer for each FAILURE_DECAY_MS since the last. */
export function currentFailures(state: FailureState, now: number): number {
  const since = Math.max(0, now - (state.failuresAt ?? now));
  return Math.max(0, state.failures - Math.floor(since / FAILURE_DECAY_MS));
}

/**
 * Counts a failed sign-in. From the threshold on, each further failure locks the name for twice
 * as long as the last (1 min, 2 min, ... at most 1 h). Failures decay, so an attacker who tries
 * once an hour never keeps the owner out.
 */
export function recordFailure<T extends FailureState>(state: T, now: number, threshold: number): T {
  const failures = currentFailures(state, now) + 1;
  const next: T = { ...state, failures, failuresAt: now };
  if (failures < threshold) delete next.lockedUntil;
  else next.lockedUntil = now + Math.min(LOCK_MAX_MS, LOCK_BASE_MS * 2 ** (failures - threshold));
  return next;
}

/**
 * The start of a password check, as one conditional write: a locked name is refused, otherwise
 * the attempt is counted as a failure before the (slow) hash runs, so parallel attempts cannot
 * all pass the check. `allowed` says whether the password may be checked.
 */
export function beginAttempt<T extends FailureState>(
  state: T,
  now: number,
  threshold: number,
): { state: T; allowed: boolean } {
  if (isLocked(state, now)) return { state, allowed: false };
  return { state: recordFailure(state, now, threshold), allowed: true };
}

/**
 * The right password with a second factor still to come: the attempt counted in advance is
 * taken back, but earlier failures stay until the code is right too.
 */
export function passwordAccepted(record: CredentialRecord): CredentialRecord {
  const next = { ...record, failures: Math.max(0, record.failures - 1) };
  delete next.lockedUntil;
  return next;
}

export function recordSuccess<T extends FailureState>(state: T): T {
  const next = { ...state, failures: 0 };
  delete next.lockedUntil;
  delete next.failuresAt;
  return next;
}

/** At most this many sessions per user are honoured; signing in on another drops the oldest. */
export const MAX_SESSIONS = 10;

export function addSession(
  record: CredentialRecord,
  session: SessionEntry,
  now: number,
): CredentialRecord {
  const live = (record.sessions ?? []).filter((s) => s.expiresAt > now && s.id !== session.id);
  return { ...record, sessions: [...live, session].slice(-MAX_SESSIONS) };
}

export function removeSession(record: CredentialRecord, id: string): CredentialRecord {
  return { ...record, sessions: (record.sessions ?? []).filter((s) => s.id !== id) };
}

export function sessionListed(
  record: Pick<CredentialRecord, "sessions">,
  id: string,
  now: number,
): boolean {
  return (record.sessions ?? []).some((s) => s.id === id && s.expiresAt > now);
}
