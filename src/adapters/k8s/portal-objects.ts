import {
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
  type V1Deployment,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { Informer } from "../../runtime/informer.ts";
import { apiStatusCode } from "../../runtime/api-errors.ts";
import { INSTANCE_KEY, MANAGED_BY } from "../../plan/naming.ts";
import {
  OWNED_PORTAL_SELECTOR,
  PORTAL_KINDS,
  portalName,
  type PortalKind,
} from "../../plan/portal-workload.ts";

const FIELD_MANAGER = MANAGED_BY;

function collectionPath(kind: PortalKind, namespace: string): string {
  const base = kind.apiVersion === "v1" ? "/api/v1" : `/apis/${kind.apiVersion}`;
  return kind.namespaced
    ? `${base}/namespaces/${namespace}/${kind.plural}`
    : `${base}/${kind.plural}`;
}

/**
 * The portal objects the operator made, cached by one informer per kind (selected by our
 * labels, so nothing else in the namespace is read), and written with server-side apply: the
 * controller owns exactly the fields it sets, so a hand edit of one of them is reverted while
 * fields others add (annotations from a service mesh, say) are left alone.
 */
export class PortalObjects {
  private readonly api: KubernetesObjectApi;
  private readonly informers: Map<string, Informer<KubernetesObject>>;

  constructor(kubeConfig: KubeConfig, namespace: string, log: Logger) {
    this.api = KubernetesObjectApi.makeApiClient(kubeConfig);
    this.informers = new Map(
      PORTAL_KINDS.map((kind) => [
        kind.kind,
        new Informer<KubernetesObject>({
          kubeConfig,
          path: collectionPath(kind, namespace),
          list: () =>
            this.api.list(
              kind.apiVersion,
              kind.kind,
              kind.namespaced ? namespace : undefined,
              undefined,
              undefined,
              undefined,
              undefined,
              OWNED_PORTAL_SELECTOR,
            ),
          labelSelector: OWNED_PORTAL_SELECTOR,
          log,
        }),
      ]),
    );
  }

  caches(): Informer<KubernetesObject>[] {
    return [...this.informers.values()];
  }

  /** Calls `handler` with the instance name whenever one of its portal objects changes. */
  onChange(handler: (instance: string) => void): void {
    for (const informer of this.informers.values()) {
      informer.onChange(({ object }) => {
        const instance = object.metadata?.labels?.[INSTANCE_KEY];
        if (instance) handler(instance);
      });
    }
  }

  /** The cached object of one kind for an instance, if the operator made it. */
  get(kind: PortalKind["kind"], instance: string): KubernetesObject | undefined {
    return this.informers
      .get(kind)
      ?.list()
      .find((o) => o.metadata?.name === portalName(instance) && isOurs(o, instance));
  }

  /** The instance's portal Deployment, whose status says how many replicas are ready. */
  deployment(instance: string): V1Deployment | undefined {
    const object = this.get("Deployment", instance);
    return object && isDeployment(object) ? object : undefined;
  }

  /** Applies every desired object, then deletes the instance's objects no longer desired. */
  async reconcile(instance: string, desired: KubernetesObject[]): Promise<void> {
    for (const object of desired) {
      await this.api.patch(
        object,
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      );
    }
    const wanted = new Set(desired.map((o) => o.kind));
    for (const kind of PORTAL_KINDS) {
      if (wanted.has(kind.kind)) continue;
      const existing = this.get(kind.kind, instance);
      if (!existing) continue;
      try {
        await this.api.delete(existing);
      } catch (err) {
        if (apiStatusCode(err) !== 404) throw err;
      }
    }
  }
}

/** The Deployment informer holds only Deployments (list items carry no `kind` to check). */
const isDeployment = (object: KubernetesObject): object is V1Deployment => "spec" in object;

function isOurs(object: KubernetesObject, instance: string): boolean {
  return object.metadata?.labels?.[INSTANCE_KEY] === instance;
}
