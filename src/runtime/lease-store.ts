import {
  CoordinationV1Api,
  Observable,
  Watch,
  type ConfigurationOptions,
  type KubeConfig,
  type RequestContext,
  type ResponseContext,
  type V1Lease,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apiStatusCode } from "./api-errors.ts";
import type { LeaderRecord, LeaseStore, ObservedLease } from "./leader-election.ts";
import { microTime } from "./micro-time.ts";

/** MicroTime of an ISO time; none for an empty one (a Lease written by someone else). */
const micro = (iso: string): Date | undefined => (iso ? microTime(new Date(iso)) : undefined);

const isoOf = (value: Date | string | undefined): string =>
  value === undefined ? "" : typeof value === "string" ? value : value.toISOString();

function toObserved(lease: V1Lease): ObservedLease {
  const spec = lease.spec ?? {};
  return {
    record: {
      holderIdentity: spec.holderIdentity ?? "",
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTime: isoOf(spec.acquireTime),
      renewTime: isoOf(spec.renewTime),
      leaseTransitions: spec.leaseTransitions ?? 0,
    },
    resourceVersion: lease.metadata?.resourceVersion ?? "",
  };
}

/** A client-node per-call option that makes the request abortable by `signal`. */
function withSignal(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context: RequestContext) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: "append",
  };
}

/** The leader Lease on the API server (coordination.k8s.io/v1). */
export class KubeLeaseStore implements LeaseStore {
  private readonly api: CoordinationV1Api;
  private readonly kubeConfig: KubeConfig;
  private readonly namespace: string;
  private readonly name: string;
  private readonly log: Logger;
  private readonly retryMs: number;

  constructor(options: {
    kubeConfig: KubeConfig;
    namespace: string;
    name: string;
    log: Logger;
    /** Pause before re-opening a watch that ended. */
    watchRetryMs: number;
  }) {
    this.kubeConfig = options.kubeConfig;
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.namespace = options.namespace;
    this.name = options.name;
    this.log = options.log;
    this.retryMs = options.watchRetryMs;
  }

  private body(record: LeaderRecord, resourceVersion?: string): V1Lease {
    return {
      metadata: {
        name: this.name,
        namespace: this.namespace,
        ...(resourceVersion ? { resourceVersion } : {}),
      },
      spec: {
        holderIdentity: record.holderIdentity,
        leaseDurationSeconds: record.leaseDurationSeconds,
        acquireTime: micro(record.acquireTime),
        renewTime: micro(record.renewTime),
        leaseTransitions: record.leaseTransitions,
      },
    };
  }

  async get(signal: AbortSignal): Promise<ObservedLease | undefined> {
    try {
      const lease = await this.api.readNamespacedLease(
        { name: this.name, namespace: this.namespace },
        withSignal(signal),
      );
      return toObserved(lease);
    } catch (err) {
      if (apiStatusCode(err) === 404) return undefined;
      throw err;
    }
  }

  async create(record: LeaderRecord, signal: AbortSignal): Promise<ObservedLease> {
    return toObserved(
      await this.api.createNamespacedLease(
        { namespace: this.namespace, body: this.body(record) },
        withSignal(signal),
      ),
    );
  }

  async update(
    record: LeaderRecord,
    resourceVersion: string,
    signal: AbortSignal,
  ): Promise<ObservedLease> {
    // resourceVersion makes it a compare-and-swap: a Lease changed meanwhile is a 409.
    return toObserved(
      await this.api.replaceNamespacedLease(
        { name: this.name, namespace: this.namespace, body: this.body(record, resourceVersion) },
        withSignal(signal),
      ),
    );
  }

  watch(onChange: (lease: ObservedLease | undefined) => void): () => void {
    let stopped = false;
    let abort: AbortController | undefined;
    let retry: NodeJS.Timeout | undefined;
    const again = () => {
      if (!stopped) retry = setTimeout(open, this.retryMs);
    };
    const open = () => {
      new Watch(this.kubeConfig)
        .watch(
          `/apis/coordination.k8s.io/v1/namespaces/${this.namespace}/leases`,
          { fieldSelector: `metadata.name=${this.name}` },
          (type, lease: V1Lease) => {
            onChange(type === "DELETED" ? undefined : toObserved(lease));
          },
          again,
        )
        .then(
          (controller) => {
            abort = controller;
            if (stopped) controller.abort();
          },
          (err: unknown) => {
            this.log.debug(
              { err: err instanceof Error ? err.message : String(err) },
              "lease watch failed",
            );
            again();
          },
        );
    };
    open();
    return () => {
      stopped = true;
      clearTimeout(retry);
      abort?.abort();
    };
  }
}
