import {
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesListObject,
} from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import { GROUP, VERSION, type Resource } from "../../api/v1alpha1/index.ts";
import { apiStatusCode } from "../../runtime/api-errors.ts";
import { Informer, type ListPage, type WatchLike } from "../../runtime/informer.ts";

/** Our kinds by the plural the API server serves them under. */
export const PLURALS = {
  IdentityCenter: "identitycenters",
  User: "users",
  Group: "groups",
  PermissionSet: "permissionsets",
  Account: "accounts",
  AccountAssignment: "accountassignments",
  Application: "applications",
  ApplicationAssignment: "applicationassignments",
} as const;

export type KindName = keyof typeof PLURALS;
export type AnyResource = Resource<string, unknown, unknown>;

/** Typed access to one of our cluster-scoped kinds. */
export class CustomResourceClient<T extends AnyResource> {
  readonly kind: KindName;
  private readonly api: CustomObjectsApi;
  private readonly kubeConfig: KubeConfig;
  /** Told of each object a write of ours stored (the cache takes it: Informer.observeWrite). */
  onWritten: ((from: T, stored: T) => void) | undefined;

  constructor(kubeConfig: KubeConfig, kind: KindName) {
    this.kind = kind;
    this.kubeConfig = kubeConfig;
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  private get ref() {
    return { group: GROUP, version: VERSION, plural: PLURALS[this.kind] };
  }

  /** Lists the kind; with `page`, one page of it (`limit`, `continue`). */
  async list(page?: ListPage): Promise<KubernetesListObject<T>> {
    return (await this.api.listClusterCustomObject({
      ...this.ref,
      ...(page ? { limit: page.limit } : {}),
      ...(page?.continue ? { _continue: page.continue } : {}),
    })) as KubernetesListObject<T>;
  }

  /** The kind's cache; `watch` replaces the API server watch (a test's lagging one). */
  informer(log: Logger, watch?: WatchLike): Informer<T> {
    return new Informer<T>({
      kubeConfig: this.kubeConfig,
      path: `/apis/${GROUP}/${VERSION}/${PLURALS[this.kind]}`,
      list: (page) => this.list(page),
      log,
      ...(watch ? { watch } : {}),
    });
  }

  async get(name: string): Promise<T> {
    return (await this.api.getClusterCustomObject({ ...this.ref, name })) as T;
  }

  /**
   * Writes `status` through the status subresource, only when it differs from what the cached
   * object has. The cached resourceVersion makes a stale write fail with a conflict, which the
   * controller retries against fresher data. Returns whether it wrote.
   */
  async updateStatus(cached: T, status: T["status"]): Promise<boolean> {
    return (await this.writeStatus(cached, status)) !== undefined;
  }

  /** updateStatus that returns the object as stored (undefined when nothing was written). */
  async writeStatus(cached: T, status: T["status"]): Promise<T | undefined> {
    if (isDeepStrictEqual(cached.status, status)) return undefined;
    const stored = (await this.api.replaceClusterCustomObjectStatus({
      ...this.ref,
      name: cached.metadata.name,
      body: { ...cached, status },
    })) as T;
    return this.written(cached, stored);
  }

  private written(from: T, stored: T): T {
    this.onWritten?.(from, stored);
    return stored;
  }

  /**
   * Adds a finalizer with a JSON patch, so a spec edit made since the cache saw the object is
   * neither overwritten nor a conflict. Returns the object as stored, or the cached one when
   * the finalizer was already there (nothing is sent).
   */
  async addFinalizer(cached: T, finalizer: string): Promise<T> {
    const finalizers = cached.metadata.finalizers;
    if (finalizers?.includes(finalizer)) return cached;
    const ops =
      finalizers === undefined
        ? [{ op: "add", path: "/metadata/finalizers", value: [finalizer] }]
        : [{ op: "add", path: "/metadata/finalizers/-", value: finalizer }];
    return this.written(cached, await this.jsonPatch(cached.metadata.name, ops));
  }

  /**
   * Removes a finalizer with a JSON patch that first tests it is still at the index the cache
   * saw (a concurrent change of the list makes the patch fail and the reconcile retry).
   */
  async removeFinalizer(cached: T, finalizer: string): Promise<boolean> {
    const index = (cached.metadata.finalizers ?? []).indexOf(finalizer);
    if (index < 0) return false;
    const path = `/metadata/finalizers/${String(index)}`;
    // Not written through: the last finalizer gone, the object goes, and the watch says so.
    await this.jsonPatch(cached.metadata.name, [
      { op: "test", path, value: finalizer },
      { op: "remove", path },
    ]);
    return true;
  }

  private async jsonPatch(name: string, ops: unknown[]): Promise<T> {
    return (await this.api.patchClusterCustomObject(
      { ...this.ref, name, body: ops },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
    )) as T;
  }

  /** The object, or undefined when there is none of that name. */
  async find(name: string): Promise<T | undefined> {
    try {
      return await this.get(name);
    } catch (err) {
      if (apiStatusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** The objects carrying a label selector (read from the API server, not a cache). */
  async select(labelSelector: string): Promise<T[]> {
    const list = (await this.api.listClusterCustomObject({
      ...this.ref,
      labelSelector,
    })) as KubernetesListObject<T>;
    return list.items;
  }

  async create(obj: T): Promise<T> {
    return (await this.api.createClusterCustomObject({ ...this.ref, body: obj })) as T;
  }

  /** Deletes the object if it is still the one seen (same uid); returns whether it was there. */
  async delete(obj: T): Promise<boolean> {
    try {
      await this.api.deleteClusterCustomObject({
        ...this.ref,
        name: obj.metadata.name,
        body: { preconditions: { uid: obj.metadata.uid } },
      });
      return true;
    } catch (err) {
      if (apiStatusCode(err) === 404) return false;
      throw err;
    }
  }

  /** Replaces the object (spec and metadata such as finalizers); conflicts on a stale copy. */
  async replace(obj: T): Promise<T> {
    const stored = (await this.api.replaceClusterCustomObject({
      ...this.ref,
      name: obj.metadata.name,
      body: obj,
    })) as T;
    return this.written(obj, stored);
  }
}
