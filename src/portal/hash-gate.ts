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

/** A place in the gate, taken before the work that leads to a hash (see `HashGate.admit`). */
export interface HashAdmission {
  /** Runs the job in one of the gate's slots, waiting for one if need be; once. */
  run<T>(job: () => Promise<T>): Promise<T>;
  /** Gives the place back unused: the request ended before its hash. Harmless after `run`. */
  release(): void;
}

/**
 * Bounds the memory password hashing can take: a fixed number of jobs in flight and a short
 * queue. Refusing with 503 + Retry-After is better than an OOM kill, which would also end
 * every other request the pod was serving.
 */
export class HashGate {
  private running = 0;
  /** Places given out and not yet finished: running, waiting, or on their way to the gate. */
  private admitted = 0;
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

  /**
   * A place among the `concurrency + queue` the gate allows, or 503 at once. Taken before
   * the work a hash needs first (a sign-in counts the attempt in a Secret write): a request
   * the gate would refuse is then refused before it writes anything, so a busy portal neither
   * counts failures it never checked nor spends API calls on requests it turns away.
   */
  admit(): HashAdmission {
    if (this.admitted >= this.options.concurrency + this.options.queue) {
      this.options.onRefused?.();
      throw new HashCapacityError(1);
    }
    this.admitted++;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      this.admitted--;
    };
    let used = false;
    return {
      run: async <T>(job: () => Promise<T>): Promise<T> => {
        if (used || finished) throw new Error("a hash admission runs one job");
        used = true;
        try {
          return await this.runAdmitted(job);
        } finally {
          finish();
        }
      },
      release: finish,
    };
  }

  /** `admit` and run at once; a refusal is a rejected promise like any other failure. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    return this.admit().run(job);
  }

  private async runAdmitted<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= this.options.concurrency) {
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
