import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { Informer } from "../../runtime/informer.ts";
import { MANAGED_BY, MANAGED_BY_LABEL } from "../../plan/naming.ts";
import { apiStatusCode } from "../../runtime/api-errors.ts";

/** Marks the Secrets that hold an Application's signing key (and selects only them). */
const SIGNING_KEY_LABEL = "identitycenter.dev/signing-key";
export const APPLICATION_SIGNING_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY},${SIGNING_KEY_LABEL}=application`;
/** The Application a Secret belongs to (an annotation: names can be longer than a label value). */
export const APPLICATION_ANNOTATION = "identitycenter.dev/application";
/** The rotation request (the Application's annotation value) the key in a Secret answers. */
export const ROTATION_ANSWERED_ANNOTATION = "identitycenter.dev/rotation-answered";

export interface ApplicationKeyMaterial {
  application: { name: string; uid: string };
  certificatePem: string;
  privateKeyPem: string;
  /** The value of the Application's rotation annotation this key was made for ("" if none). */
  rotation: string;
}

/**
 * The Secrets of the operator namespace that hold the Applications' signing keys: a cache of
 * only those (label-selected, so no other Secret is read) and the writes that make and roll
 * them. Each Secret is owned by its Application, so the garbage collector removes it with the
 * Application (no blockOwnerDeletion: that would need rights on the Application's finalizers).
 */
export class ApplicationSigningSecrets {
  readonly informer: Informer<V1Secret>;
  private readonly core: CoreV1Api;
  private readonly namespace: string;

  constructor(kubeConfig: KubeConfig, namespace: string, log: Logger) {
    this.namespace = namespace;
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.informer = new Informer<V1Secret>({
      kubeConfig,
      path: `/api/v1/namespaces/${namespace}/secrets`,
      list: (page) =>
        this.core.listNamespacedSecret({
          namespace,
          labelSelector: APPLICATION_SIGNING_SELECTOR,
          limit: page.limit,
          ...(page.continue ? { _continue: page.continue } : {}),
        }),
      labelSelector: APPLICATION_SIGNING_SELECTOR,
      log,
    });
  }

  get(name: string): V1Secret | undefined {
    return this.informer.get(`${this.namespace}/${name}`);
  }

  private body(name: string, material: ApplicationKeyMaterial, base?: V1Secret): V1Secret {
    return {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        ...base?.metadata,
        name,
        namespace: this.namespace,
        labels: {
          ...base?.metadata?.labels,
          [MANAGED_BY_LABEL]: MANAGED_BY,
          [SIGNING_KEY_LABEL]: "application",
        },
        annotations: {
          ...base?.metadata?.annotations,
          [APPLICATION_ANNOTATION]: material.application.name,
          [ROTATION_ANSWERED_ANNOTATION]: material.rotation,
        },
        ownerReferences: [
          {
            apiVersion: "identitycenter.dev/v1alpha1",
            kind: "Application",
            name: material.application.name,
            uid: material.application.uid,
            controller: true,
          },
        ],
      },
      type: "kubernetes.io/tls",
      data: {
        "tls.crt": Buffer.from(material.certificatePem).toString("base64"),
        "tls.key": Buffer.from(material.privateKeyPem).toString("base64"),
      },
    };
  }

  /**
   * Writes a new key: creates the Secret, or replaces the cached one (its resourceVersion makes
   * a concurrent write a conflict, retried by the caller's queue, never a lost key).
   */
  async write(name: string, material: ApplicationKeyMaterial, existing?: V1Secret): Promise<void> {
    if (existing) {
      await this.core.replaceNamespacedSecret({
        name,
        namespace: this.namespace,
        body: this.body(name, material, existing),
      });
      return;
    }
    await this.core.createNamespacedSecret({
      namespace: this.namespace,
      body: this.body(name, material),
    });
  }

  /** Deletes an Application's Secret; one already gone is fine. */
  async delete(name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedSecret({ name, namespace: this.namespace });
    } catch (err) {
      if (apiStatusCode(err) !== 404) throw err;
    }
  }
}

/** The certificate, key and rotation a cached Secret holds, when it holds a whole key. */
export function readKeyMaterial(secret: V1Secret | undefined): ApplicationKeyMaterial | undefined {
  const crt = secret?.data?.["tls.crt"];
  const key = secret?.data?.["tls.key"];
  const annotations = secret?.metadata?.annotations ?? {};
  const application = annotations[APPLICATION_ANNOTATION];
  if (!crt || !key || application === undefined) return undefined;
  const uid = secret.metadata?.ownerReferences?.find((o) => o.kind === "Application")?.uid;
  return {
    application: { name: application, uid: uid ?? "" },
    certificatePem: Buffer.from(crt, "base64").toString("utf8"),
    privateKeyPem: Buffer.from(key, "base64").toString("utf8"),
    rotation: annotations[ROTATION_ANSWERED_ANNOTATION] ?? "",
  };
}

/** Reads a Secret of `namespace` by name (a plain `get`, which is all the portal may do). */
export function secretByName(
  kubeConfig: KubeConfig,
  namespace: string,
): (name: string) => Promise<V1Secret | undefined> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return async (name) => {
    try {
      return await core.readNamespacedSecret({ name, namespace });
    } catch (err) {
      if (apiStatusCode(err) === 404) return undefined;
      throw err;
    }
  };
}
