import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { INSTANCE_KEY, MANAGED_BY, MANAGED_BY_LABEL } from "../../plan/naming.ts";
import { Informer } from "../../runtime/informer.ts";

/** The labels of the instances' signing Secrets (Applications' keys carry a signing-key label). */
export const INSTANCE_SIGNING_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY},${INSTANCE_KEY},!identitycenter.dev/signing-key`;

/**
 * The instances' signing Secrets, cached by an informer on the operator namespace selected by
 * our labels, so a reconcile reads no Secret from the API server and a deleted Secret (a key
 * rotation) wakes its instance at once.
 */
export class InstanceSigningSecrets {
  readonly informer: Informer<V1Secret>;
  private readonly namespace: string;

  constructor(kubeConfig: KubeConfig, namespace: string, log: Logger) {
    this.namespace = namespace;
    const core = kubeConfig.makeApiClient(CoreV1Api);
    this.informer = new Informer<V1Secret>({
      kubeConfig,
      path: `/api/v1/namespaces/${namespace}/secrets`,
      list: (page) =>
        core.listNamespacedSecret({
          namespace,
          labelSelector: INSTANCE_SIGNING_SELECTOR,
          limit: page.limit,
          ...(page.continue ? { _continue: page.continue } : {}),
        }),
      labelSelector: INSTANCE_SIGNING_SELECTOR,
      log,
    });
  }

  get(name: string): V1Secret | undefined {
    return this.informer.get(`${this.namespace}/${name}`);
  }

  /** Calls `handler` with the instance name whenever one of its signing Secrets changes. */
  onChange(handler: (instance: string) => void): void {
    this.informer.onChange(({ object }) => {
      const instance = object.metadata?.labels?.[INSTANCE_KEY];
      if (instance) handler(instance);
    });
  }
}
