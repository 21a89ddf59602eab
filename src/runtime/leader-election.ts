import type { Logger } from "pino";
import { monotonicClock, type Clock } from "./clock.ts";

/** The fields of a coordination.k8s.io/v1 Lease that election reads and writes. */
export interface LeaderRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  /** Wall-clock times, for people reading the Lease; never compared across nodes. */
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

/** A Lease as read: its record and the resourceVersion an update must name. */
export interface ObservedLease {
  record: LeaderRecord;
  resourceVersion: string;
}

/**
 * Where the Lease lives (the API server in production). Every call takes a signal: the elector
 * aborts a call that outlives its timeout, so a hung connection cannot stall the election.
 */
export interface LeaseStore {
  get(signal: AbortSignal): Promise<ObservedLease | undefined>;
  /** Fails (with a conflict) when the Lease exists already. */
  create(record: LeaderRecord, signal: AbortSignal): Promise<ObservedLease>;
  /** Fails (with a conflict) when the Lease changed since `resourceVersion`. */
  update(
    record: LeaderRecord,
    resourceVersion: string,
    signal: AbortSignal,
  ): Promise<ObservedLease>;
  /** Calls `onChange` on every change of the Lease until the returned function is called. */
  watch?(onChange: (lease: ObservedLease | undefined) => void): () => void;
}

export interface LeaderElectionOptions {
  store: LeaseStore;
  identity: string;
  log: Logger;
  /** How long a holder's lease lasts, counted by each candidate from when it saw it change. */
  leaseDurationMs?: number;
  /** How long a leader keeps leading without a successful renew. Below the lease duration. */
  renewDeadlineMs?: number;
  /** How often to try to acquire or renew. */
  retryPeriodMs?: number;
  /** Longest wait for one Lease call (default: the retry period). */
  callTimeoutMs?: number;
  /** Monotonic time for every duration; the wall clock only stamps the record. */
  clock?: Clock;
  wallClock?: () => Date;
  onStartedLeading: () => void;
  /** Called at most once, when leadership ends for any reason but stop(). */
  onStoppedLeading: (why: string) => void;
}

class LeaseCallTimeout extends Error {
  override readonly name = "LeaseCallTimeout";
}

const recordKey = (r: LeaderRecord | undefined) =>
  r === undefined
    ? ""
    : JSON.stringify([
        r.holderIdentity,
        r.leaseDurationSeconds,
        r.acquireTime,
        r.renewTime,
        r.leaseTransitions,
      ]);

/**
 * Leader election on a Lease, with client-go's rules (tools/leaderelection):
 *
 * - A candidate never compares the holder's renewTime with its own clock, since clocks of two
 *   nodes disagree. It notes, on its own monotonic clock, when it last saw the Lease record
 *   change, and takes the Lease only once it has stayed unchanged for the lease duration.
 * - Every Lease call has a timeout, so a call that hangs fails instead of stalling the loop.
 * - A leader that has not renewed within the renew deadline (counted from the start of the
 *   last successful try, which is before any candidate can have seen that renewal) stops
 *   leading at once, whatever its calls are doing; with renew deadline < lease duration, it
 *   stops before any candidate may take the Lease.
 *
 * A standby also watches the Lease (when the store can), so a released Lease is taken at once.
 */
export class LeaderElector {
  private readonly store: LeaseStore;
  private readonly identity: string;
  private readonly log: Logger;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly callTimeoutMs: number;
  private readonly clock: Clock;
  private readonly wallClock: () => Date;
  private readonly onStartedLeading: () => void;
  private readonly onStoppedLeading: (why: string) => void;

  private leading = false;
  private stopped = false;
  /** The record as last seen, and when (monotonic) it was seen to change. */
  private observed: ObservedLease | undefined;
  private observedAt = 0;
  private nextTry: { cancel(): void } | undefined;
  private deadline: { cancel(): void } | undefined;
  private unwatch: (() => void) | undefined;
  private running: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<AbortController>();

  constructor(options: LeaderElectionOptions) {
    this.store = options.store;
    this.identity = options.identity;
    this.log = options.log;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.callTimeoutMs = options.callTimeoutMs ?? this.retryPeriodMs;
    this.clock = options.clock ?? monotonicClock;
    this.wallClock = options.wallClock ?? (() => new Date());
    this.onStartedLeading = options.onStartedLeading;
    this.onStoppedLeading = options.onStoppedLeading;
    if (!(this.renewDeadlineMs < this.leaseDurationMs))
      throw new Error("the renew deadline must be shorter than the lease duration");
    if (!(this.retryPeriodMs < this.renewDeadlineMs))
      throw new Error("the retry period must be shorter than the renew deadline");
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.unwatch = this.store.watch?.((lease) => {
      // A released Lease (no holder) can be taken now; anything else waits for its turn.
      if (!this.leading && !this.stopped && lease && lease.record.holderIdentity === "")
        this.schedule(0);
    });
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.nextTry?.cancel();
    this.nextTry = this.clock.setTimeout(() => {
      // One try at a time: a try that is still running finishes (or times out) first.
      this.running = this.running.then(() => this.round());
    }, delayMs);
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    const startedAt = this.clock.now();
    let acquired = false;
    try {
      acquired = await this.tryAcquireOrRenew();
    } catch (err) {
      this.log.debug(
        { err: err instanceof Error ? err.message : String(err) },
        "lease call failed",
      );
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may have run during the await
    if (this.stopped) return;
    if (acquired) {
      this.renewed(startedAt);
      this.schedule(this.retryPeriodMs);
      return;
    }
    if (this.leading && this.observed && this.observed.record.holderIdentity !== this.identity) {
      this.stepDown(`${this.observed.record.holderIdentity} holds the lease`);
      return;
    }
    // A standby tries again when the holder's lease runs out, if that comes before a retry.
    const expiresIn = this.observedAt + this.observedDurationMs() - this.clock.now();
    this.schedule(
      this.leading ? this.retryPeriodMs : Math.max(0, Math.min(this.retryPeriodMs, expiresIn + 1)),
    );
  }

  private observedDurationMs(): number {
    return (this.observed?.record.leaseDurationSeconds ?? 0) * 1000;
  }

  /** Runs one Lease call under the call timeout, aborting it when the time is up. */
  private async call<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const abort = new AbortController();
    this.inFlight.add(abort);
    let timer: { cancel(): void } | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => {
        const err = new LeaseCallTimeout(
          `lease call took longer than ${String(this.callTimeoutMs)} ms`,
        );
        abort.abort(err);
        reject(err);
      }, this.callTimeoutMs);
    });
    try {
      return await Promise.race([fn(abort.signal), timedOut]);
    } finally {
      timer?.cancel();
      this.inFlight.delete(abort);
    }
  }

  private observe(lease: ObservedLease | undefined): void {
    if (recordKey(lease?.record) !== recordKey(this.observed?.record)) {
      this.observedAt = this.clock.now();
    }
    this.observed = lease;
  }

  /** One round of client-go's tryAcquireOrRenew; true when this candidate holds the Lease. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.wallClock().toISOString();
    const current = await this.call((signal) => this.store.get(signal));
    if (!current) {
      const created = await this.call((signal) =>
        this.store.create(
          {
            holderIdentity: this.identity,
            leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
          signal,
        ),
      );
      this.observe(created);
      return true;
    }
    this.observe(current);
    const { record } = current;
    const held = record.holderIdentity !== "" && record.holderIdentity !== this.identity;
    if (held && this.observedAt + this.observedDurationMs() > this.clock.now()) return false;
    if (this.stopped) return false;
    const ours = record.holderIdentity === this.identity;
    const updated = await this.call((signal) =>
      this.store.update(
        {
          holderIdentity: this.identity,
          leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
          acquireTime: ours ? record.acquireTime : now,
          renewTime: now,
          leaseTransitions: ours ? record.leaseTransitions : record.leaseTransitions + 1,
        },
        current.resourceVersion,
        signal,
      ),
    );
    this.observe(updated);
    return true;
  }

  /** A try that started at `startedAt` renewed the Lease: the deadline moves from there. */
  private renewed(startedAt: number): void {
    this.deadline?.cancel();
    const left = startedAt + this.renewDeadlineMs - this.clock.now();
    if (left <= 0) {
      // The try took the whole deadline: a candidate may already count this renewal as old.
      if (this.leading) this.stepDown("the renew took longer than the renew deadline");
      return;
    }
    this.deadline = this.clock.setTimeout(() => {
      this.stepDown(
        `could not renew the lease within the renew deadline (${String(this.renewDeadlineMs)} ms)`,
      );
    }, left);
    if (this.leading) return;
    this.leading = true;
    this.log.info({ identity: this.identity }, "became leader");
    this.onStartedLeading();
  }

  private stepDown(why: string): void {
    this.deadline?.cancel();
    const wasLeading = this.leading;
    this.leading = false;
    this.stopped = true;
    this.nextTry?.cancel();
    this.unwatch?.();
    for (const abort of this.inFlight) abort.abort(new Error("stepped down"));
    if (!wasLeading) return;
    this.log.error({ why }, "lost leadership");
    this.onStoppedLeading(why);
  }

  /** Stops electing; a leader clears the holder so a standby can take over at once. */
  async stop(): Promise<void> {
    const wasLeading = this.leading;
    this.stopped = true;
    this.leading = false;
    this.nextTry?.cancel();
    this.deadline?.cancel();
    this.unwatch?.();
    await this.running.catch(() => undefined);
    if (!wasLeading || !this.observed) return;
    try {
      const current = await this.call((signal) => this.store.get(signal));
      if (current?.record.holderIdentity !== this.identity) return;
      const now = this.wallClock().toISOString();
      await this.call((signal) =>
        this.store.update(
          { ...current.record, holderIdentity: "", leaseDurationSeconds: 1, renewTime: now },
          current.resourceVersion,
          signal,
        ),
      );
      this.log.info("released the leader lease");
    } catch (err) {
      this.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        "could not release the lease",
      );
    }
  }
}
