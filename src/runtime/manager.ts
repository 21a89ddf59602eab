import type { Server } from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { ManagerMetrics } from "./metrics.ts";
import type { Controller } from "./controller.ts";
import { startHealthServer } from "./health-server.ts";
import { startInformers, type Cache } from "./informer.ts";
import { LeaderElector } from "./leader-election.ts";
import { KubeLeaseStore } from "./lease-store.ts";

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  metrics: ManagerMetrics;
  informers: readonly Cache[];
  controllers: Controller[];
  healthAddress?: { host: string; port: number };
  leaderElection?: {
    namespace: string;
    name: string;
    identity: string;
    leaseDurationMs?: number;
    renewDeadlineMs?: number;
    retryPeriodMs?: number;
  };
  shutdownDeadlineMs?: number;
  /** Called when leadership is lost: the process should exit so it restarts clean. */
  onFatal: (reason: string) => void;
}

/**
 * Runs informers for everyone (standbys keep warm caches), and controllers only while leading.
 * Shutdown stops taking work, lets in-flight reconciles finish within a deadline, releases the
 * lease and stops the caches.
 */
export class Manager {
  private readonly options: ManagerOptions;
  private elector: LeaderElector | undefined;
  private server: Server | undefined;
  private controllersRunning = false;
  private leadershipLost = false;
  private stopping = false;

  constructor(options: ManagerOptions) {
    this.options = options;
  }

  private synced(): boolean {
    return this.options.informers.every((i) => i.hasSynced());
  }

  isReady(): boolean {
    return this.synced() && !this.leadershipLost;
  }

  async start(): Promise<void> {
    const { log, metrics, healthAddress, leaderElection } = this.options;
    if (healthAddress) {
      this.server = await startHealthServer({
        ...healthAddress,
        registry: metrics.registry,
        isReady: () => this.isReady(),
      });
      log.info(
        { address: `${healthAddress.host}:${String(healthAddress.port)}` },
        "serving /metrics, /healthz, /readyz",
      );
    }
    // The caches list while the election runs: a replica restarted after a crash waits out
    // the old holder's lease anyway, so listing first would only add to its failover time.
    // Controllers start once both are done.
    const synced = startInformers(this.options.informers).then(() => {
      log.info("caches synced");
    });
    if (!leaderElection) {
      await synced;
      this.startControllers();
      return;
    }
    const { namespace, name, identity, ...timing } = leaderElection;
    this.elector = new LeaderElector({
      store: new KubeLeaseStore({
        kubeConfig: this.options.kubeConfig,
        namespace,
        name,
        log,
        watchRetryMs: timing.retryPeriodMs ?? 2000,
      }),
      identity,
      log,
      ...timing,
      onStartedLeading: () => {
        metrics.isLeader.set(1);
        synced.then(
          () => {
            if (!this.leadershipLost && !this.stopping) this.startControllers();
          },
          // A failed sync rejects start() below; the process exits from there.
          () => undefined,
        );
      },
      onStoppedLeading: (why) => {
        // No reconcile may start from here on: another replica may lead soon. The process then
        // exits, which also ends the reconciles in flight (their AWS calls cannot be recalled).
        metrics.isLeader.set(0);
        this.leadershipLost = true;
        for (const c of this.options.controllers) c.abandon();
        log.error({ why }, "controllers stopped: lost leadership");
        this.options.onFatal(`lost the leader lease: ${why}`);
      },
    });
    this.elector.start();
    await synced;
  }

  private startControllers(): void {
    if (this.controllersRunning) return;
    this.controllersRunning = true;
    for (const c of this.options.controllers) c.start();
    this.options.log.info(
      { controllers: this.options.controllers.map((c) => c.name) },
      "controllers started",
    );
  }

  isLeader(): boolean {
    return this.elector?.isLeader() ?? this.controllersRunning;
  }

  async stop(): Promise<void> {
    const { log, shutdownDeadlineMs = 20_000 } = this.options;
    this.stopping = true;
    const finished = await Promise.all(
      this.options.controllers.map((c) => c.stop(shutdownDeadlineMs)),
    );
    if (finished.some((f) => !f))
      log.warn("some reconciles did not finish before the shutdown deadline");
    await this.elector?.stop();
    await Promise.all(this.options.informers.map((i) => i.stop()));
    await new Promise<void>((resolve) => {
      if (!this.server) resolve();
      else this.server.close(() => resolve());
    });
    log.info("stopped");
  }
}
