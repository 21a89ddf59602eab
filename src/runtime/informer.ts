import {
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { systemClock, type Clock } from "./clock.ts";
import { slimObject } from "./slim-object.ts";

export type ChangeType = "add" | "update" | "delete";

/** A change to one object; `old` is the cached version it replaced (update and delete). */
export interface Change<T> {
  type: ChangeType;
  object: T;
  old: T | undefined;
}

/** One page of a list: at most `limit` objects, continuing where `continue` says. */
export interface ListPage {
  limit: number;
  continue?: string;
}

export interface InformerOptions<T extends KubernetesObject, S extends KubernetesObject = T> {
  kubeConfig: KubeConfig;
  /** API path of the collection, for example /apis/identitycenter.dev/v1alpha1/users. */
  path: string;
  /** Lists one page (the API server's `limit` and `continue`). */
  list: (page: ListPage) => Promise<KubernetesListObject<T>>;
  log: Logger;
  clock?: Clock;
  labelSelector?: string;
  fieldSelector?: string;
  /** The watch to use; a Watch on `kubeConfig` unless a unit test brings its own. */
  watch?: WatchLike;
  /** Objects per list page (500, as client-go's reflector). */
  pageSize?: number;
  /**
   * The form an object is cached in (slimObject when unset): a cache that needs a few fields
   * of a large object (a credential record's sessions, not its password hash) keeps only those.
   * It must keep metadata.name and resourceVersion; without metadata.namespace the cache is
   * keyed by name alone (a cache of one namespace).
   */
  transform?: (object: T) => S;
  /**
   * Whether this kind's resourceVersions may be compared as integers (KEP-5504: an etcd
   * revision; Secrets and the other built-in kinds). The cache then never goes back a version,
   * whichever way a version arrives (watch, relist, `observe`), so objects this process read
   * or wrote can be stored at once even when the watch is behind.
   */
  comparableVersions?: boolean;
}

/** What the informer uses of client-node's Watch. */
export type WatchLike = Pick<Watch, "watch">;

const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
const PAGE_SIZE = 500;
/** A watch that ends sooner than this after it opened is restarted with backoff, not at once. */
const SHORT_WATCH_MS = 1000;

const keyOf = (obj: KubernetesObject): string =>
  obj.metadata?.namespace
    ? `${obj.metadata.namespace}/${obj.metadata.name ?? ""}`
    : (obj.metadata?.name ?? "");

/**
 * Orders two resourceVersions as KEP-5504 defines it (positive integers without leading zeros,
 * compared by length, then digit by digit); undefined when either is not such an integer.
 */
export function compareResourceVersions(a: string, b: string): number | undefined {
  const valid = (v: string) => /^[1-9][0-9]*$/.test(v);
  if (!valid(a) || !valid(b)) return undefined;
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

const isGone = (err: unknown): boolean =>
  typeof err === "object" &&
  err !== null &&
  ((err as { code?: unknown }).code === 410 ||
    (err as { statusCode?: unknown }).statusCode === 410);

/** The `continue` token of a page: `_continue` from typed clients, `continue` from raw JSON. */
function continueOf(list: KubernetesListObject<KubernetesObject>): string | undefined {
  const meta: { _continue?: string; continue?: string } | undefined = list.metadata;
  return meta?._continue || meta?.continue || undefined;
}

/**
 * A cache of one kind kept current by list + watch, as client-go's reflector does it:
 * - the list comes in pages (`limit`/`continue`), each applied to the store as it arrives, so
 *   a 100,000-object kind never sits in memory twice (once as the response, once as the cache);
 * - every object is slimmed before it is stored (slimObject: no managedFields, no
 *   last-applied-configuration, shared strings for repeated values);
 * - the watch resumes from the last resourceVersion seen, kept fresh by bookmarks, so an
 *   ended watch (the API server ends them every few minutes) does not cost a relist;
 * - a failure (API server down, network) restarts list or watch with exponential backoff;
 *   410 Gone relists at once.
 * It reports synced only once its first list is wholly in the store.
 */
export class Informer<T extends KubernetesObject, S extends KubernetesObject = T> {
  private objects = new Map<string, S>();
  private readonly handlers: ((change: Change<S>) => void)[] = [];
  private synced = false;
  private stopped = true;
  private resourceVersion = "";
  private restartDelay = RESTART_MIN_MS;
  private restartTimer: { cancel(): void } | undefined;
  private request: AbortController | undefined;
  /** Bumped on every start and stop, so callbacks of an older cycle are ignored. */
  private generation = 0;
  private readonly syncWaiters: (() => void)[] = [];
  private readonly options: InformerOptions<T, S>;
  private readonly clock: Clock;
  private readonly watcher: WatchLike;
  private readonly transform: (object: T) => S;

  constructor(options: InformerOptions<T, S>) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.watcher = options.watch ?? new Watch(options.kubeConfig);
    this.transform = options.transform ?? ((object: T) => slimObject(object) as unknown as S);
  }

  /** Whether `version` is older than `than` (only ever true with comparableVersions). */
  private older(version: string | undefined, than: string | undefined): boolean {
    if (!this.options.comparableVersions || !version || !than) return false;
    return (compareResourceVersions(version, than) ?? 0) < 0;
  }

  /** Stores or removes one object and tells the handlers; "update" of a new key is an add. */
  private apply(type: "update" | "delete", object: S): void {
    const key = keyOf(object);
    const old = this.objects.get(key);
    // A version older than the cached one (the watch catching up with an object this process
    // already stored through `observe`) changes nothing, nor does a delete of an older one.
    if (old && this.older(object.metadata?.resourceVersion, old.metadata?.resourceVersion)) return;
    if (type === "delete") {
      if (!old) return;
      this.objects.delete(key);
    } else {
      // The same version again (a relist of an unchanged object): nothing happened.
      if (old && old.metadata?.resourceVersion === object.metadata?.resourceVersion) return;
      this.objects.set(key, object);
    }
    const change: Change<S> = {
      type: type === "delete" ? "delete" : old ? "update" : "add",
      object,
      old,
    };
    for (const handler of this.handlers) handler(change);
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private scheduleRestart(err: unknown, cycle: number): void {
    if (this.stopped || cycle !== this.generation) return;
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
      this.cycle();
    }, delay);
  }

  /** Registers a handler for every change, including the adds of the first list. */
  onChange(handler: (change: Change<S>) => void): void {
    this.handlers.push(handler);
  }

  /** Starts listing and watching; failures (even of the first list) are retried, not thrown. */
  start(): void {
    this.stopped = false;
    this.cycle();
  }

  /** One round: list if there is no version to resume from, then watch. */
  private cycle(): void {
    const cycle = ++this.generation;
    this.request?.abort();
    this.request = undefined;
    this.run(cycle).catch((err: unknown) => {
      if (isGone(err)) this.resourceVersion = "";
      this.scheduleRestart(err, cycle);
    });
  }

  private async run(cycle: number): Promise<void> {
    if (!this.resourceVersion) await this.relist(cycle);
    if (cycle !== this.generation || this.stopped) return;
    await this.openWatch(cycle);
  }

  /**
   * Lists every object page by page into the store. Objects the store holds that the list no
   * longer has are deleted at the end. An expired `continue` token (410) starts over.
   */
  private async relist(cycle: number): Promise<void> {
    const limit = this.options.pageSize ?? PAGE_SIZE;
    const seen = new Set<string>();
    let token: string | undefined;
    let resourceVersion = "";
    for (;;) {
      let page: KubernetesListObject<T>;
      try {
        page = await this.options.list({ limit, ...(token ? { continue: token } : {}) });
      } catch (err) {
        if (!token || !isGone(err)) throw err;
        // The snapshot the pages came from was compacted away: list again from the start.
        token = undefined;
        seen.clear();
        continue;
      }
      if (cycle !== this.generation || this.stopped) return;
      for (const item of page.items) {
        const object = this.transform(item);
        seen.add(keyOf(object));
        this.apply("update", object);
      }
      token = continueOf(page);
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      if (!token) break;
    }
    for (const [key, object] of this.objects) {
      // Stored through `observe` after the list's snapshot was taken: newer than the list.
      if (this.older(resourceVersion, object.metadata?.resourceVersion)) continue;
      if (!seen.has(key)) this.apply("delete", object);
    }
    this.resourceVersion = resourceVersion;
    this.restartDelay = RESTART_MIN_MS;
    this.markSynced();
  }

  private async openWatch(cycle: number): Promise<void> {
    this.options.log.debug({ path: this.options.path }, "watch connecting");
    const openedAt = this.clock.now();
    let events = 0;
    const query: Record<string, string | boolean> = {
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      ...(this.options.labelSelector ? { labelSelector: this.options.labelSelector } : {}),
      ...(this.options.fieldSelector ? { fieldSelector: this.options.fieldSelector } : {}),
    };
    const request = await this.watcher.watch(
      this.options.path,
      query,
      (phase: string, raw: T & { code?: number }) => {
        if (cycle !== this.generation) return;
        events++;
        this.onEvent(phase, raw);
      },
      (err: unknown) => {
        if (cycle !== this.generation || this.stopped) return;
        if (isGone(err)) this.resourceVersion = "";
        const quick = events === 0 && this.clock.now() - openedAt < SHORT_WATCH_MS;
        // A watch the server or the inactivity timeout ended is resumed at once; an error, or
        // a watch that ends as soon as it opens, waits first so it cannot spin.
        if (err && !isGone(err) && !isTimeout(err)) this.scheduleRestart(err, cycle);
        else if (quick && this.resourceVersion)
          this.scheduleRestart(err ?? "watch ended at once", cycle);
        else this.cycle();
      },
    );
    if (cycle === this.generation && !this.stopped) this.request = request;
    else request.abort();
  }

  private onEvent(phase: string, raw: T & { code?: number }): void {
    switch (phase) {
      case "ADDED":
      case "MODIFIED":
        this.apply("update", this.transform(raw));
        break;
      case "DELETED":
        this.apply("delete", this.transform(raw));
        break;
      case "ERROR":
        // 410: the version is too old; the watch ends and the next cycle relists.
        if (raw.code === 410) this.resourceVersion = "";
        return;
      case "BOOKMARK":
        break;
      default:
        return;
    }
    this.restartDelay = RESTART_MIN_MS;
    this.resourceVersion = raw.metadata?.resourceVersion ?? this.resourceVersion;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    this.restartTimer?.cancel();
    this.request?.abort();
    this.request = undefined;
    await Promise.resolve();
  }

  /**
   * The API server's answer to our own write of `from`: stored at once when the cache still
   * holds the version it was written from, and the handlers told. Without it the next
   * reconcile of the object (a group arriving a moment after the user's first status write)
   * writes from the old version and gets a conflict and a retry, until the watch catches up;
   * under a create storm that was a fifth of all status writes. The watch event for the same
   * version changes nothing afterwards (same resourceVersion). When the cache holds anything
   * else (the watch got there first, or someone wrote since) the answer is not newer than the
   * cache and is dropped.
   */
  observeWrite(from: KubernetesObject, written: T): void {
    if (this.options.comparableVersions) {
      this.observe(written);
      return;
    }
    // Keyed by the cached form, which may leave out the namespace (see `transform`).
    const slim = this.transform(written);
    const current = this.objects.get(keyOf(slim));
    if (!current || current.metadata?.resourceVersion !== from.metadata?.resourceVersion) return;
    this.apply("update", slim);
  }

  /**
   * An object as this process just read or wrote it, stored at once when it is newer than what
   * the cache knows (comparableVersions only; otherwise nothing happens): newer than the cached
   * version, or, for a key the cache does not hold, newer than the last version the list or
   * watch reached. A key absent at a version the watch has already passed was deleted (or
   * relabelled) since, and stays absent. Returns whether it was stored.
   */
  observe(object: T): boolean {
    const version = object.metadata?.resourceVersion;
    if (!this.options.comparableVersions || !version) return false;
    const slim = this.transform(object);
    const current = this.objects.get(keyOf(slim));
    const reference = current?.metadata?.resourceVersion ?? this.resourceVersion;
    if (reference && (compareResourceVersions(version, reference) ?? 0) <= 0) return false;
    this.apply("update", slim);
    return true;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(name: string): S | undefined {
    return this.objects.get(name);
  }

  list(): S[] {
    return [...this.objects.values()];
  }

  /** Objects in the cache, without copying them into an array. */
  values(): IterableIterator<S> {
    return this.objects.values();
  }

  get size(): number {
    return this.objects.size;
  }
}

const isTimeout = (err: unknown): boolean =>
  typeof err === "object" && err !== null && (err as { name?: unknown }).name === "TimeoutError";

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
