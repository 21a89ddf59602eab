import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { systemClock, type Clock } from "./clock.ts";

export type ChangeType = "add" | "update" | "delete";

/** A change to one object; `old` is the cached version it replaced (update and delete). */
export interface Change<T> {
  type: ChangeType;
  object: T;
  old: T | undefined;
}

export interface InformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** API path of the collection, for example /apis/identitycenter.dev/v1alpha1/users. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  log: Logger;
  clock?: Clock;
  labelSelector?: string;
  fieldSelector?: string;
  /** The watch to use; a Watch on `kubeConfig` unless a unit test brings its own. */
  watch?: WatchLike;
}

/** What ListWatch uses of client-node's Watch. */
export type WatchLike = Pick<Watch, "watch">;

const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;

const keyOf = (obj: KubernetesObject): string =>
  obj.metadata?.namespace
    ? `${obj.metadata.namespace}/${obj.metadata.name ?? ""}`
    : (obj.metadata?.name ?? "");

/**
 * A cache of one kind kept current by list + watch. client-node's ListWatch relists on 410 but
 * stops on any other error (API server down, network); this restarts it with exponential
 * backoff and resumes from the last resourceVersion, so no update is lost across an outage.
 * It reports synced only once its first list is wholly in the store.
 */
export class Informer<T extends KubernetesObject> {
  private readonly listWatch: ListWatch<T>;
  private readonly objects = new Map<string, T>();
  private readonly handlers: ((change: Change<T>) => void)[] = [];
  private synced = false;
  private stopped = true;
  private restartDelay = RESTART_MIN_MS;
  private restartTimer: { cancel(): void } | undefined;
  private readonly syncWaiters: (() => void)[] = [];
  private readonly options: InformerOptions<T>;
  private readonly clock: Clock;

  constructor(options: InformerOptions<T>) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    const list = async () => {
      const result = await options.list();
      this.restartDelay = RESTART_MIN_MS;
      return result;
    };
    const watch = options.watch ?? new Watch(options.kubeConfig);
    // ListWatch stores the listed objects (firing our handlers) after `list` resolves, in a
    // later microtask, and only then opens the watch. Marking synced when `list` returns let a
    // waiter run against an empty or partial store; the watch call is the first moment the
    // whole list is known to be in the store, on every path (first list and relist).
    const syncingWatch: WatchLike = {
      watch: (path, query, callback, done) => {
        this.markSynced();
        return watch.watch(path, query, callback, done);
      },
    };
    this.listWatch = new ListWatch<T>(
      options.path,
      syncingWatch as Watch,
      list,
      false,
      options.labelSelector,
      options.fieldSelector,
    );
    this.listWatch.on("add", (obj) => {
      this.apply("add", obj);
    });
    this.listWatch.on("update", (obj) => {
      this.apply("update", obj);
    });
    this.listWatch.on("delete", (obj) => {
      this.apply("delete", obj);
    });
    this.listWatch.on("connect", () => {
      options.log.debug({ path: options.path }, "watch connecting");
    });
    this.listWatch.on("error", (err: unknown) => {
      this.scheduleRestart(err);
    });
  }

  private apply(type: ChangeType, object: T): void {
    // managedFields are often larger than the object itself and no controller reads them;
    // dropping them (as client-go's transform functions do) keeps the cache small. The object
    // is the one ListWatch stores, so its copy shrinks too.
    if (object.metadata?.managedFields) delete object.metadata.managedFields;
    const key = keyOf(object);
    const old = this.objects.get(key);
    if (type === "delete") this.objects.delete(key);
    else this.objects.set(key, object);
    for (const handler of this.handlers) handler({ type, object, old });
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private scheduleRestart(err: unknown): void {
    if (this.stopped) return;
    const delay = this.restartDelay;
    this.restartDelay = Math.min(RESTART_MAX_MS, this.restartDelay * 2);
    this.options.log.warn(
      {
        path: this.options.path,
        err: err instanceof Error ? err.message : String(err),
        retryInMs: delay,
      },
      "watch failed; restarting",
    );
    this.restartTimer?.cancel();
    this.restartTimer = this.clock.setTimeout(() => {
      this.startListWatch();
    }, delay);
  }

  /** Registers a handler for every change, including the adds of the first list. */
  onChange(handler: (change: Change<T>) => void): void {
    this.handlers.push(handler);
  }

  /** Starts listing and watching; failures (even of the first list) are retried, not thrown. */
  start(): void {
    this.stopped = false;
    this.startListWatch();
  }

  private startListWatch(): void {
    // A refused connection can reject here instead of reaching the error callback.
    this.listWatch.start().catch((err: unknown) => {
      this.scheduleRestart(err);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.restartTimer?.cancel();
    await this.listWatch.stop();
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(name: string): T | undefined {
    return this.objects.get(name);
  }

  list(): T[] {
    return [...this.objects.values()];
  }
}

/** What the manager needs of any informer, whatever it caches. */
export interface Cache {
  start(): void;
  stop(): Promise<void>;
  hasSynced(): boolean;
  waitForSync(): Promise<void>;
}

/** Starts caches and resolves once every one has listed. */
export async function startInformers(informers: readonly Cache[]): Promise<void> {
  for (const informer of informers) informer.start();
  await Promise.all(informers.map((i) => i.waitForSync()));
}
