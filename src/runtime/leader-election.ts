import { CoordinationV1Api, Watch, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { microTime } from "./micro-time.ts";
import { apiStatusCode } from "./api-errors.ts";

export interface LeaderElectionOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  log: Logger;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews
 * every retry period; others take over once renewTime + leaseDuration has passed. A standby
 * also watches the Lease, so a released lease (holder cleared on SIGTERM) is taken at once.
 * A leader that cannot renew within the renew deadline stops leading.
 */
export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly options: Required<
    Omit<LeaderElectionOptions, "onStartedLeading" | "onStoppedLeading">
  > &
    LeaderElectionOptions;
  private leading = false;
  private stopped = false;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private watchAbort: AbortController | undefined;
  private attempt: Promise<void> = Promise.resolve();

  constructor(options: LeaderElectionOptions) {
    this.options = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      ...options,
    };
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.tick();
    void this.watchLease();
  }

  private tick(): void {
    if (this.stopped) return;
    this.attempt = this.tryAcquireOrRenew().then((expiresInMs) => {
      if (this.stopped) return;
      // A standby tries again when the holder's lease runs out, if that is before the next
      // retry period, so a dead leader is replaced within the lease duration.
      const delay = Math.max(0, Math.min(this.options.retryPeriodMs, expiresInMs ?? Infinity));
      this.timer = setTimeout(() => {
        this.tick();
      }, delay);
    });
  }

  /** Watching the Lease lets a standby react to a release without waiting a retry period. */
  private async watchLease(): Promise<void> {
    const { kubeConfig, namespace, name } = this.options;
    try {
      this.watchAbort = await new Watch(kubeConfig).watch(
        `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
        { fieldSelector: `metadata.name=${name}` },
        (_type, lease: V1Lease) => {
          if (!this.leading && !lease.spec?.holderIdentity) {
            this.attempt = this.attempt.then(async () => {
              await this.tryAcquireOrRenew();
            });
          }
        },
        () => {
          if (!this.stopped) setTimeout(() => void this.watchLease(), this.options.retryPeriodMs);
        },
      );
    } catch {
      if (!this.stopped) setTimeout(() => void this.watchLease(), this.options.retryPeriodMs);
    }
  }

  private now(): Date {
    return microTime(new Date());
  }

  /** One round; returns how long until another holder's lease expires, when there is one. */
  private async tryAcquireOrRenew(): Promise<number | undefined> {
    const { namespace, name, identity, leaseDurationMs, log } = this.options;
    try {
      let lease: V1Lease | undefined;
      try {
        lease = await this.api.readNamespacedLease({ name, namespace });
      } catch (err) {
        if (apiStatusCode(err) !== 404) throw err;
      }
      const now = this.now();
      if (!lease) {
        await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
              acquireTime: now,
              renewTime: now,
              leaseTransitions: 0,
            },
          },
        });
        this.becameLeader();
        return undefined;
      }
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? "";
      const renewedAt = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
      const duration = (spec.leaseDurationSeconds ?? 0) * 1000;
      const expired = holder === "" || renewedAt + duration < Date.now();
      if (holder !== identity && !expired) {
        if (this.leading) this.lostLeadership("another holder took the lease");
        return renewedAt + duration - Date.now() + 10;
      }
      const takingOver = holder !== identity;
      spec.holderIdentity = identity;
      spec.leaseDurationSeconds = Math.ceil(leaseDurationMs / 1000);
      spec.renewTime = now;
      if (takingOver) {
        spec.acquireTime = now;
        spec.leaseTransitions = (spec.leaseTransitions ?? 0) + 1;
      }
      lease.spec = spec;
      await this.api.replaceNamespacedLease({ name, namespace, body: lease });
      this.becameLeader();
      return undefined;
    } catch (err) {
      log.debug({ err: err instanceof Error ? err.message : String(err) }, "lease update failed");
      if (this.leading && Date.now() - this.lastRenew > this.options.renewDeadlineMs) {
        this.lostLeadership("could not renew the lease within the renew deadline");
      }
      return undefined;
    }
  }

  private becameLeader(): void {
    this.lastRenew = Date.now();
    if (this.leading) return;
    this.leading = true;
    this.options.log.info({ identity: this.options.identity }, "became leader");
    this.options.onStartedLeading();
  }

  private lostLeadership(why: string): void {
    this.leading = false;
    this.options.log.error({ why }, "lost leadership");
    this.options.onStoppedLeading();
  }

  /** Stops electing; a leader clears the holder so a standby can take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.watchAbort?.abort();
    await this.attempt.catch(() => undefined);
    if (!this.leading) return;
    const { namespace, name, log } = this.options;
    try {
      const lease = await this.api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity === this.options.identity) {
        lease.spec.holderIdentity = "";
        lease.spec.leaseDurationSeconds = 1;
        lease.spec.renewTime = this.now();
        await this.api.replaceNamespacedLease({ name, namespace, body: lease });
        log.info("released the leader lease");
      }
    } catch (err) {
      log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        "could not release the lease",
      );
    }
    this.leading = false;
  }
}
