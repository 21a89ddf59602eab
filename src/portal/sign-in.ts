import { userNameKey } from "../identity/directory-index.ts";
import type { PortalMetrics } from "../observability/metrics.ts";
import {
  addSession,
  beginAttempt,
  isLocked,
  passwordAccepted,
  recordFailure,
  recordSuccess,
  removeSession,
  revokeSessions,
  sessionListed,
  setupTokenValid,
  type CredentialRecord,
  type FailureState,
} from "../identity/credentials.ts";
import { randomBase64url } from "../util/random-pool.ts";
import type { CredentialBackend } from "./context.ts";
import { pendingMfaValid, sessionBelongsTo, type Session } from "./session-cookie.ts";
import { verifyTotp } from "./mfa.ts";

const MAX_COUNTED_NAMES = 10_000;

/**
 * Failure counters for names that have no credential record (unknown names, users never
 * invited), in this replica's memory: they lock like a real user's, so "too many attempts"
 * tells nothing about whether a name exists. Bounded: the oldest names are forgotten first.
 */
export class NameFailureCounters {
  private readonly counters = new Map<string, FailureState>();

  begin(name: string, now: number, threshold: number): boolean {
    const key = userNameKey(name);
    const attempt = beginAttempt(this.counters.get(key) ?? { failures: 0 }, now, threshold);
    this.counters.delete(key); // re-inserted last: the Map's order is the eviction order
    this.counters.set(key, attempt.state);
    if (this.counters.size > MAX_COUNTED_NAMES) {
      const oldest = this.counters.keys().next();
      if (!oldest.done) this.counters.delete(oldest.value);
    }
    return attempt.allowed;
  }
}

export type PasswordOutcome =
  { result: "locked" | "rejected" } | { result: "accepted"; record: CredentialRecord };

export type CodeOutcome =
  { result: "expired" | "locked" | "rejected" } | { result: "accepted"; sessionId: string };

export const newSessionId = () => randomBase64url(18);

/** One password check's place in the hash gate, taken before the attempt is counted. */
export interface PasswordCheck {
  verify(password: string, stored: string): Promise<boolean>;
  /** The same work as `verify` against a current record, matching nothing. */
  verifyNothing(password: string): Promise<false>;
  /** The check ends without a hash (a locked name, a failed write). */
  release(): void;
}

/** The password hashing sign-in uses: bounded in memory and off the event loop (context.ts). */
export interface PasswordChecker {
  /** A place for one check, or 503 (HashCapacityError) at once when the portal is full. */
  admit(): PasswordCheck;
}

/** A stored hash replaced by one at the current cost, unless the record changed meanwhile. */
export interface HashUpgrade {
  from: string;
  to: string;
}

const upgraded = (r: CredentialRecord, upgrade: HashUpgrade | undefined): CredentialRecord =>
  upgrade && r.passwordHash === upgrade.from ? { ...r, passwordHash: upgrade.to } : r;

/**
 * The credential checks of sign-in, each built so that parallel requests and replicas cannot
 * get more than one answer per counted attempt: every check that decides something is made in
 * the same conditional write that records its effect.
 */
export class SignInChecks {
  private readonly credentials: CredentialBackend;
  private readonly metrics: PortalMetrics;
  private readonly passwords: PasswordChecker;
  private readonly unknownNames = new NameFailureCounters();

  constructor(credentials: CredentialBackend, metrics: PortalMetrics, passwords: PasswordChecker) {
    this.credentials = credentials;
    this.metrics = metrics;
    this.passwords = passwords;
  }

  /**
   * The password step. `recordName` is the userName of the User the typed name resolves to
   * (undefined when none does), `eligible` whether that user may sign in (active, unique).
   * Every name that is not locked costs one Argon2id check, against the stored hash or a dummy
   * one, and every name locks after `threshold` failures: unknown, inactive and real users
   * look the same from outside, by answer and by time.
   */
  async checkPassword(input: {
    typedName: string;
    recordName: string | undefined;
    eligible: boolean;
    password: string;
    now: number;
    threshold: number;
  }): Promise<PasswordOutcome> {
    // The place for the hash first: a request the portal is too busy to check is turned away
    // before its attempt is counted, so a storm of 503s locks nobody out.
    const check = this.passwords.admit();
    try {
      return await this.checkAdmitted(input, check);
    } finally {
      check.release();
    }
  }

  private async checkAdmitted(
    input: Parameters<SignInChecks["checkPassword"]>[0],
    check: PasswordCheck,
  ): Promise<PasswordOutcome> {
    const { recordName, now, threshold } = input;
    let allowed = false;
    // Counted before the hash runs, in one conditional write: of N parallel guesses only as
    // many as the threshold allows get past this point. A name with no record of its User is
    // counted in memory instead.
    const record = recordName
      ? await this.credentials.updateExisting(recordName, (current) => {
          const attempt = beginAttempt(current, now, threshold);
          allowed = attempt.allowed;
          return attempt.state;
        })
      : undefined;
    if (!record) allowed = this.unknownNames.begin(input.typedName, now, threshold);
    if (!allowed) return { result: "locked" };
    this.metrics.passwordHashes.inc();
    const hash = input.eligible ? record?.passwordHash : undefined;
    const ok = hash
      ? await check.verify(input.password, hash)
      : await check.verifyNothing(input.password);
    if (!ok || !record || !recordName) return { result: "rejected" };
    return { result: "accepted", record };
  }

  /** The right password and a second factor still to come: the counted attempt is taken back. */
  async passwordAccepted(userName: string, upgrade?: HashUpgrade): Promise<void> {
    await this.credentials.update(userName, (r) => upgraded(passwordAccepted(r), upgrade));
  }

  /** The right password and no second factor: signed in, with a new server-side session. */
  async signedIn(
    userName: string,
    expiresAt: number,
    now: number,
    upgrade?: HashUpgrade,
  ): Promise<string> {
    const id = newSessionId();
    await this.credentials.update(userName, (r) =>
      addSession(upgraded(recordSuccess(r), upgrade), { id, expiresAt }, now),
    );
    return id;
  }

  /**
   * Signed in through the upstream identity provider: a new server-side session that ends
   * when the upstream's statement does. Makes the credential record of a user who never had a
   * password, so sign-out, reset and deactivation end this session like any other.
   */
  async federatedSignIn(
    userName: string,
    expiresAt: number,
    now: number,
  ): Promise<{ id: string; epoch: number; uid: string | undefined }> {
    const id = newSessionId();
    const record = await this.credentials.update(userName, (r) =>
      addSession(recordSuccess(r), { id, expiresAt }, now),
    );
    // The record is bound to the User's uid; the session is bound to the same uid.
    return { id, epoch: record.sessionEpoch, uid: record.userUid };
  }

  /**
   * The code step, as one conditional write: the pending password step must be recent and of
   * the current credentials, the name not locked, and the code's time step newer than the last
   * used one; the step is consumed and the session listed in the same write, so one code
   * signs in once however many requests carry it.
   */
  async checkCode(input: {
    session: Session;
    code: string;
    now: number;
    threshold: number;
    expiresAt: number;
  }): Promise<CodeOutcome> {
    const { session, now } = input;
    const id = newSessionId();
    let outcome: CodeOutcome = { result: "expired" };
    // No record (the User is gone) or one of another User of this userName: the password step
    // was passed by someone else, start again.
    const existing = await this.credentials.get(session.userName);
    if (!existing || !sessionBelongsTo(session, existing.userUid)) return outcome;
    await this.credentials.update(session.userName, (r) => {
      if (
        !r.totpSecret ||
        !sessionBelongsTo(session, r.userUid) ||
        !pendingMfaValid(session, r.sessionEpoch, now)
      ) {
        outcome = { result: "expired" };
        return r;
      }
      if (isLocked(r, now)) {
        outcome = { result: "locked" };
        return r;
      }
      const step = verifyTotp(r.totpSecret, input.code, new Date(now), r.totpLastStep);
      if (step === undefined) {
        outcome = { result: "rejected" };
        return recordFailure(r, now, input.threshold);
      }
      outcome = { result: "accepted", sessionId: id };
      return addSession(
        { ...recordSuccess(r), totpLastStep: step },
        { id, expiresAt: input.expiresAt },
        now,
      );
    });
    return outcome;
  }

  /**
   * Completes a setup link, as one conditional write: the token is checked and consumed
   * together, so it sets one password however many requests carry it. Every earlier session
   * ends. Returns false when the link was used or has expired.
   */
  async completeSetup(input: {
    userName: string;
    token: string;
    passwordHash: string;
    totp?: { secret: string; step: number };
    now: number;
  }): Promise<boolean> {
    let consumed = false;
    await this.credentials.update(input.userName, (r) => {
      consumed = setupTokenValid(r, input.token, input.now);
      if (!consumed) return r;
      const next: CredentialRecord = {
        ...revokeSessions(recordSuccess(r)),
        passwordHash: input.passwordHash,
      };
      delete next.setup;
      if (input.totp) {
        next.totpSecret = input.totp.secret;
        next.totpLastStep = input.totp.step;
      }
      return next;
    });
    return consumed;
  }

  /** Whether the server still honours this signed-in session (not signed out or revoked). */
  sessionHonoured(
    record: Pick<CredentialRecord, "sessions">,
    session: Session,
    now: number,
  ): boolean {
    return session.id !== undefined && sessionListed(record, session.id, now);
  }

  async signedOut(userName: string, sessionId: string): Promise<void> {
    // A User that is gone has no record to end sessions in (nor sessions anyone honours).
    if (!(await this.credentials.get(userName))) return;
    await this.credentials.update(userName, (r) =>
      r.sessions?.some((s) => s.id === sessionId) ? removeSession(r, sessionId) : r,
    );
  }

  /** Ends every session of a user (deactivated or deleted); writes only when there are some. */
  async revokeAll(userName: string): Promise<void> {
    // A deleted User's record is no one's any more: the credentials controller removes it.
    if (!(await this.credentials.get(userName))) return;
    await this.credentials.update(userName, (r) =>
      (r.sessions?.length ?? 0) > 0 ? revokeSessions(r) : r,
    );
  }
}
