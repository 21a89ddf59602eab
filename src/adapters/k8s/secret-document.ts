import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import { apiStatusCode } from "../../runtime/api-errors.ts";
import { MANAGED_BY } from "../../plan/naming.ts";

/** One JSON document shared by every replica. */
export interface SharedDocument<T> {
  get(): Promise<T>;
  /**
   * Read-modify-write; `change` may run more than once and must not have side effects. A change
   * that returns the document it was given writes nothing.
   */
  update(change: (current: T) => T): Promise<T>;
}

const KEY = "document.json";

/**
 * A JSON document in one Secret, updated with the Secret's resourceVersion so that concurrent
 * replicas never overwrite each other (a conflict means: read again and retry).
 */
export class SecretDocument<T> implements SharedDocument<T> {
  private readonly core: CoreV1Api;
  private readonly ref: { namespace: string; name: string; empty: () => T };

  constructor(kubeConfig: KubeConfig, ref: { namespace: string; name: string; empty: () => T }) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.ref = ref;
  }

  private async read(): Promise<{ secret?: V1Secret; value: T }> {
    try {
      const secret = await this.core.readNamespacedSecret({
        name: this.ref.name,
        namespace: this.ref.namespace,
      });
      const data = secret.data?.[KEY];
      return {
        secret,
        value: data
          ? (JSON.parse(Buffer.from(data, "base64").toString("utf8")) as T)
          : this.ref.empty(),
      };
    } catch (err) {
      if (apiStatusCode(err) === 404) return { value: this.ref.empty() };
      throw err;
    }
  }

  async get(): Promise<T> {
    return (await this.read()).value;
  }

  async update(change: (current: T) => T): Promise<T> {
    const { namespace, name } = this.ref;
    for (let attempt = 0; attempt < 8; attempt++) {
      const { secret, value } = await this.read();
      const next = change(value);
      // Unchanged (the same object back): nothing to write, and no conflict to lose.
      if (next === value && secret) return value;
      const body: V1Secret = {
        metadata: {
          name,
          namespace,
          labels: { "app.kubernetes.io/managed-by": MANAGED_BY },
          ...(secret?.metadata?.resourceVersion
            ? { resourceVersion: secret.metadata.resourceVersion }
            : {}),
        },
        type: "Opaque",
        data: { [KEY]: Buffer.from(JSON.stringify(next)).toString("base64") },
      };
      try {
        if (secret) await this.core.replaceNamespacedSecret({ name, namespace, body });
        else await this.core.createNamespacedSecret({ namespace, body });
        return next;
      } catch (err) {
        if (apiStatusCode(err) !== 409) throw err;
      }
    }
    throw new Error(`Secret ${namespace}/${name} kept changing; try again`);
  }
}

/** A document held in this process only: for a portal that runs as one replica (tests, bench). */
export function memoryDocument<T>(empty: () => T): SharedDocument<T> {
  let value = empty();
  return {
    get: () => Promise.resolve(value),
    update(change) {
      value = change(value);
      return Promise.resolve(value);
    },
  };
}
