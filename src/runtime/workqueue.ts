import { systemClock, type Clock } from "./clock.ts";
import { ExponentialBackoff, MaxOf, TokenBucket, type RateLimiter } from "./rate-limiter.ts";

export interface QueueObserver {
  onAdd?(key: string): void;
  onRetry?(key: string): void;
  onDepth?(depth: number): void;
}

/**
 * A keyed work queue with client-go's semantics:
 * - a key waiting in the queue is there once, however often it is added;
 * - a key being processed is never handed to a second worker; adding it meanwhile marks it
 *   dirty, and it is queued again once, when the worker calls done();
 * - addRateLimited() re-adds after the key's backoff; forget() resets it;
 * - addAfter() adds after a delay (the earliest pending delay for a key wins);
 * - addBackground() queues a key behind every other: it is handed out only when no key added
 *   the usual way waits, and to at most `backgroundLimit` workers at once, so a flood of
 *   follow-up work (a user's group list after a bulk import of groups) cannot take the
 *   workers, or the API server's share they get, from new objects. Adding a key the usual way
 *   while it waits in the background moves it to the front lane.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  /** Background keys in order; an entry is current only while its key is in backgroundOnly. */
  private readonly background: string[] = [];
  private readonly backgroundOnly = new Set<string>();
  private readonly backgroundProcessing = new Set<string>();
  private readonly backgroundLimit: number;
  /** Current entries in `background`. */
  private backgroundQueued = 0;
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, { at: number; cancel(): void }>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly clock: Clock;
  private readonly limiter: RateLimiter;
  private readonly observer: QueueObserver;

  constructor(
    options: {
      clock?: Clock;
      limiter?: RateLimiter;
      observer?: QueueObserver;
      backgroundLimit?: number;
    } = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.backgroundLimit = Math.max(1, options.backgroundLimit ?? Number.POSITIVE_INFINITY);
    this.limiter =
      options.limiter ?? new MaxOf(new ExponentialBackoff(), new TokenBucket(this.clock));
    this.observer = options.observer ?? {};
  }

  /** Keys waiting to be handed out, in both lanes. */
  get length(): number {
    return this.queue.length + this.backgroundQueued;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.dirty.has(key)) {
      // Waiting in the background: now it is wanted like any other key (its old entry there
      // is skipped when reached).
      if (!this.backgroundOnly.delete(key) || this.processing.has(key)) return;
      this.backgroundQueued--;
    } else {
      this.observer.onAdd?.(key);
      this.dirty.add(key);
      if (this.processing.has(key)) return;
    }
    const getter = this.getters.shift();
    if (getter) this.handOut(key, getter);
    else {
      this.queue.push(key);
      this.observer.onDepth?.(this.length);
    }
  }

  /** Queues a key behind all others (see the class comment); no-op when it is already queued. */
  addBackground(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.observer.onAdd?.(key);
    this.dirty.add(key);
    this.backgroundOnly.add(key);
    if (this.processing.has(key)) return;
    this.background.push(key);
    this.backgroundQueued++;
    this.serveBackground();
    this.observer.onDepth?.(this.length);
  }

  private handOut(key: string, getter: (key: string | undefined) => void): void {
    this.dirty.delete(key);
    this.processing.add(key);
    getter(key);
  }

  /** The next current background key a worker may take now, if any. */
  private nextBackground(): string | undefined {
    if (this.backgroundProcessing.size >= this.backgroundLimit) return undefined;
    while (this.background.length > 0) {
      const key = this.background.shift() as string;
      if (!this.backgroundOnly.has(key) || this.processing.has(key)) continue; // moved or running
      this.backgroundOnly.delete(key);
      this.backgroundQueued--;
      this.backgroundProcessing.add(key);
      return key;
    }
    return undefined;
  }

  /** Hands background keys to waiting workers while the limit allows. */
  private serveBackground(): void {
    while (this.getters.length > 0) {
      const key = this.nextBackground();
      if (key === undefined) return;
      this.handOut(key, this.getters.shift() as (key: string | undefined) => void);
    }
  }

  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const pending = this.waiting.get(key);
    if (pending && pending.at <= at) return;
    pending?.cancel();
    const timer = this.clock.setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { at, cancel: () => timer.cancel() });
  }

  addRateLimited(key: string): void {
    this.observer.onRetry?.(key);
    this.addAfter(key, this.limiter.when(key));
  }

  forget(key: string): void {
    this.limiter.forget(key);
  }

  retries(key: string): number {
    return this.limiter.retries(key);
  }

  /** The next key to work on, or undefined once the queue is shut down. */
  async get(): Promise<string | undefined> {
    // Once shut down, no more work is handed out, even if keys are still queued.
    if (this.shuttingDown) return undefined;
    const key = this.queue.shift() ?? this.nextBackground();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      this.observer.onDepth?.(this.length);
      return key;
    }
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Marks a key finished; if it was added while processing, it is queued again now. */
  done(key: string): void {
    this.processing.delete(key);
    this.backgroundProcessing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      if (this.backgroundOnly.delete(key)) this.addBackground(key);
      else this.add(key);
    }
    this.serveBackground();
  }

  /** Stops handing out keys: waiting getters receive undefined, delayed adds are dropped. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const w of this.waiting.values()) w.cancel();
    this.waiting.clear();
    for (const getter of this.getters.splice(0)) getter(undefined);
  }
}
