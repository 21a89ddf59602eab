import { monotonicClock, type Clock } from "./clock.ts";
import { findCondition, type Condition } from "./conditions.ts";

/** The part of a status the pacer looks at. */
export interface PacedStatus {
  observedGeneration?: number;
  conditions?: readonly Condition[];
}

/**
 * Whether a status change must be written at once: a new generation is observed, or the Ready
 * condition's status or reason changes. Everything else (a row of one account, a count, the
 * "waiting for" message) is progress, which may wait for the pacer.
 */
export function reportNow(before: PacedStatus | undefined, after: PacedStatus): boolean {
  if (before?.observedGeneration !== after.observedGeneration) return true;
  const was = findCondition(before?.conditions, "Ready");
  const is = findCondition(after.conditions, "Ready");
  return was?.status !== is?.status || was?.reason !== is?.reason;
}

/**
 * Spaces out the status writes of objects whose status holds one row per account (a
 * PermissionSet's, an AccountAssignment's).
 *
 * Every Account status write can change a row of each of them, so unpaced each one is
 * rewritten once per account that changes: with N accounts, about N writes of N rows, which
 * grows with N squared. At 250 accounts these writes cost the API server more CPU than the
 * Account statuses themselves. Paced, a write of `rows` rows waits until `rows * msPerRow`
 * (at most `maxIntervalMs`) after the object's previous write, so an object's status carries
 * at most 1000 / msPerRow rows a second and a small object (a few accounts) is hardly delayed.
 * The queue folds the changes that arrive meanwhile into the one write that follows.
 */
export class StatusPacer {
  private readonly lastWrite = new Map<string, number>();
  private readonly msPerRow: number;
  private readonly maxIntervalMs: number;
  private readonly clock: Clock;

  constructor(options: { msPerRow: number; maxIntervalMs: number; clock?: Clock }) {
    this.msPerRow = options.msPerRow;
    this.maxIntervalMs = options.maxIntervalMs;
    this.clock = options.clock ?? monotonicClock;
  }

  /** Milliseconds to wait before `key`'s status, of `rows` rows, may be written (0: now). */
  delay(key: string, rows: number): number {
    const last = this.lastWrite.get(key);
    if (last === undefined) return 0;
    const interval = Math.min(this.maxIntervalMs, rows * this.msPerRow);
    return Math.max(0, Math.ceil(last + interval - this.clock.now()));
  }

  wrote(key: string): void {
    this.lastWrite.set(key, this.clock.now());
  }

  forget(key: string): void {
    this.lastWrite.delete(key);
  }
}

/**
 * The defaults for per-account rows: 10 rows a second per object, a change written within 30 s.
 * A 250-account permission set reports its progress every 25 s; one in 3 accounts every 0.3 s.
 */
export function accountRowsPacer(clock?: Clock): StatusPacer {
  return new StatusPacer({ msPerRow: 100, maxIntervalMs: 30_000, ...(clock ? { clock } : {}) });
}
