import { HttpError } from "./errors.ts";

/** Refused because the portal already hashes as many passwords as its memory allows. */
export class HashCapacityError extends HttpError {
  constructor(retryAfterSeconds: number) {
    super(503, "The portal is busy signing other people in. Try again in a moment.", {
      "retry-after": String(retryAfterSeconds),
    });
  }
}

export interface HashGateOptions {
  /** Hashes running at once: each holds the Argon2 memory cost, so this bounds memory. */
  concurrency: number;
  /** Callers allowed to wait for a slot; beyond them the answer is 503 at once. */
  queue: number;
  onRefused?: () => void;
}

/**
 * Bounds the memory password hashing can take: a fixed number of jobs in flight and a short
 * queue. Refusing with 503 + Retry-After is better than an OOM kill, which would also end
 * every other request the pod was serving.
 */
export class HashGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly options: HashGateOptions;

  constructor(options: HashGateOptions) {
    if (options.concurrency < 1) throw new Error("hash concurrency must be at least 1");
    this.options = options;
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.options.concurrency) {
      if (this.waiting.length >= this.options.queue) {
        this.options.onRefused?.();
        throw new HashCapacityError(1);
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await job();
    } finally {
      // Hand the slot straight to the next waiter, so `running` never dips and lets a newcomer
      // overtake the queue.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
