import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import type { ControllerMetrics } from "./metrics.ts";
import { WorkQueue } from "./workqueue.ts";

/** What a reconcile asks for when it succeeds: nothing more, or another look later. */
export type ReconcileResult = undefined | { requeueAfterMs: number };

/** An error retrying cannot fix (bad input): recorded, not retried until the object changes. */
export class TerminalError extends Error {
  override readonly name = "TerminalError";
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface ReconcileContext {
  key: string;
  log: Logger;
}

export type Reconciler = (ctx: ReconcileContext) => Promise<ReconcileResult>;

export interface ControllerOptions {
  name: string;
  reconcile: Reconciler;
  log: Logger;
  metrics: ControllerMetrics;
  workers?: number;
  /** How many workers may run keys from enqueueBackground() at once (all by default). */
  backgroundWorkers?: number;
  queue?: WorkQueue;
}

/**
 * Runs reconciles for keys from a work queue with controller-runtime's handling: success ->
 * forget; requeueAfter -> forget + addAfter; TerminalError -> forget (logged); any other error
 * -> rate-limited retry. A thrown exception never stops a worker.
 */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  /** Reconciles this controller runs at once (never two for the same key). */
  readonly workerCount: number;
  private readonly options: ControllerOptions;
  private readonly inFlight = new Set<Promise<void>>();
  private workers: Promise<void>[] = [];

  constructor(options: ControllerOptions) {
    this.options = options;
    this.name = options.name;
    this.workerCount = options.workers ?? 2;
    const labels = { controller: options.name };
    this.queue =
      options.queue ??
      new WorkQueue({
        ...(options.backgroundWorkers === undefined
          ? {}
          : { backgroundLimit: options.backgroundWorkers }),
        observer: {
          onAdd: () => options.metrics.queueAdds.inc(labels),
          onRetry: () => options.metrics.queueRetries.inc(labels),
          onDepth: (depth) => options.metrics.queueDepth.set(labels, depth),
        },
      });
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Enqueues follow-up work behind every other key (WorkQueue.addBackground). */
  enqueueBackground(key: string): void {
    this.queue.addBackground(key);
  }

  start(): void {
    this.workers = Array.from({ length: this.workerCount }, () => this.work());
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const run = this.process(key);
      this.inFlight.add(run);
      await run;
      this.inFlight.delete(run);
      this.queue.done(key);
    }
  }

  private async process(key: string): Promise<void> {
    const { metrics, log: baseLog } = this.options;
    const labels = { controller: this.name };
    const log = baseLog.child({
      controller: this.name,
      key,
      reconcileId: randomBytes(4).toString("hex"),
    });
    const endTimer = metrics.reconcileDuration.startTimer(labels);
    log.debug("reconciling");
    try {
      const result = await this.options.reconcile({ key, log });
      this.queue.forget(key);
      if (result) {
        this.queue.addAfter(key, result.requeueAfterMs);
        metrics.reconciles.inc({ ...labels, result: "requeue" });
      } else {
        metrics.reconciles.inc({ ...labels, result: "success" });
      }
    } catch (err) {
      metrics.reconcileErrors.inc(labels);
      if (err instanceof TerminalError) {
        this.queue.forget(key);
        metrics.reconciles.inc({ ...labels, result: "terminal" });
        log.error(
          { reason: err.reason, err: err.message },
          "reconcile failed; not retrying until the object changes",
        );
      } else {
        this.queue.addRateLimited(key);
        metrics.reconciles.inc({ ...labels, result: "error" });
        log.warn(
          {
            err: err instanceof Error ? err.message : String(err),
            retries: this.queue.retries(key),
          },
          "reconcile failed; will retry",
        );
      }
    } finally {
      endTimer();
    }
  }

  /** Stops taking work at once (leadership lost); reconciles in flight are not waited for. */
  abandon(): void {
    this.queue.shutdown();
  }

  /** Stops taking work and waits for in-flight reconciles, at most `deadlineMs`. */
  async stop(deadlineMs: number): Promise<boolean> {
    this.queue.shutdown();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => {
        resolve(false);
      }, deadlineMs);
    });
    const finished = Promise.all([...this.inFlight, ...this.workers]).then(() => true as const);
    const result = await Promise.race([finished, timedOut]);
    clearTimeout(timer);
    return result;
  }
}
