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
 * - addAfter() adds after a delay (the earliest pending delay for a key wins).
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, { at: number; cancel(): void }>();
  private readonly getters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private readonly clock: Clock;
  private readonly limiter: RateLimiter;
  private readonly observer: QueueObserver;

  constructor(options: { clock?: Clock; limiter?: RateLimiter; observer?: QueueObserver } = {}) {
    this.clock = options.clock ?? systemClock;
    this.limiter =
      options.limiter ?? new MaxOf(new ExponentialBackoff(), new TokenBucket(this.clock));
    this.observer = options.observer ?? {};
  }

  get length(): number {
    return this.queue.length;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.observer.onAdd?.(key);
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const getter = this.getters.shift();
    if (getter) {
      this.dirty.delete(key);
      this.processing.add(key);
      getter(key);
    } else {
      this.queue.push(key);
      this.observer.onDepth?.(this.queue.length);
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
    const key = this.queue.shift();
    if (key !== undefined) {
      this.observer.onDepth?.(this.queue.length);
      this.dirty.delete(key);
      this.processing.add(key);
      return key;
    }
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Marks a key finished; if it was added while processing, it is queued again now. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  /** Stops handing out keys: waiting getters receive undefined, delayed adds are dropped. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const w of this.waiting.values()) w.cancel();
    this.waiting.clear();
    for (const getter of this.getters.splice(0)) getter(undefined);
  }
}
