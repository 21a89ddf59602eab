import { createHash } from "node:crypto";
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
  // Every portal object lives in the operator namespace; none is cluster-scoped.
  return `${base}/namespaces/${namespace}/${kind.plural}`;
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
          list: (page) =>
            this.api.list(
              kind.apiVersion,
              kind.kind,
              namespace,
              undefined,
              undefined,
              undefined,
              undefined,
              OWNED_PORTAL_SELECTOR,
              page.limit,
              page.continue,
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

  /**
   * Applies every desired object that the cache does not already hold as desired, then deletes
   * the instance's objects no longer desired. An object is up to date when it carries the
   * fingerprint of the desired object (so a field the controller stopped setting is applied
   * away) and every field the controller sets still has its value (so a hand edit is reverted);
   * a reconcile of an instance whose objects are in shape writes nothing. Returns how many
   * objects it applied.
   */
  async reconcile(instance: string, desired: KubernetesObject[]): Promise<number> {
    let applied = 0;
    for (const wanted of desired) {
      const object = withFingerprint(wanted);
      const cached = this.informers
        .get(object.kind ?? "")
        ?.list()
        .find(
          (o) =>
            o.metadata?.name === object.metadata?.name &&
            (o.metadata?.namespace ?? "") === (object.metadata?.namespace ?? "") &&
            isOurs(o, instance),
        );
      if (cached && contains(cached, object)) continue;
      applied++;
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
    return applied;
  }
}

const FINGERPRINT = "identitycenter.dev/applied-sha256";

/** The object with an annotation holding the hash of what the controller applies. */
function withFingerprint(object: KubernetesObject): KubernetesObject {
  const hash = createHash("sha256").update(JSON.stringify(object)).digest("hex");
  return {
    ...object,
    metadata: {
      ...object.metadata,
      annotations: { ...object.metadata?.annotations, [FINGERPRINT]: hash },
    },
  };
}

/** Whether `have` holds every field of `want` with the same value (arrays element by element). */
function contains(have: unknown, want: unknown): boolean {
  if (Array.isArray(want)) {
    return (
      Array.isArray(have) &&
      have.length === want.length &&
      want.every((w, i) => contains(have[i], w))
    );
  }
  if (typeof want === "object" && want !== null) {
    if (typeof have !== "object" || have === null || Array.isArray(have)) return false;
    const h = have as Record<string, unknown>;
    return Object.entries(want).every(([k, v]) => v === undefined || contains(h[k], v));
  }
  return have === want;
}

/** The Deployment informer holds only Deployments (list items carry no `kind` to check). */
const isDeployment = (object: KubernetesObject): object is V1Deployment => "spec" in object;

function isOurs(object: KubernetesObject, instance: string): boolean {
  return object.metadata?.labels?.[INSTANCE_KEY] === instance;
}
