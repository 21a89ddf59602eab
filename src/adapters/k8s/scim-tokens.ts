import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from "@kubernetes/client-node";
import { INSTANCE_KEY, MANAGED_BY, MANAGED_BY_LABEL } from "../../plan/naming.ts";
import {
  recordsFromSecretData,
  scimTokensSecretName,
  type ScimTokenRecord,
  type ScimTokenRecords,
} from "../../plan/scim/tokens.ts";
import { apiStatusCode } from "../../runtime/api-errors.ts";

/**
 * The SCIM token hashes of one instance, in one Secret of the operator namespace (one data key
 * per token name). `idc scim-token` writes it with the admin's credentials; the portal only
 * `get`s it, by name.
 */
export class ScimTokenStore {
  private readonly core: CoreV1Api;
  private readonly namespace: string;
  private readonly instance: string;

  constructor(kubeConfig: KubeConfig, namespace: string, instance: string) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.namespace = namespace;
    this.instance = instance;
  }

  private get name() {
    return scimTokensSecretName(this.instance);
  }

  async list(): Promise<ScimTokenRecords> {
    try {
      const secret = await this.core.readNamespacedSecret({
        name: this.name,
        namespace: this.namespace,
      });
      return recordsFromSecretData(secret.data);
    } catch (err) {
      if (apiStatusCode(err) === 404) return {};
      throw err;
    }
  }

  /** Adds a token; false when the name is taken (revoke it first). */
  async add(tokenName: string, record: ScimTokenRecord): Promise<boolean> {
    const value = Buffer.from(JSON.stringify(record)).toString("base64");
    for (let attempt = 0; attempt < 5; attempt++) {
      let secret;
      try {
        secret = await this.core.readNamespacedSecret({
          name: this.name,
          namespace: this.namespace,
        });
      } catch (err) {
        if (apiStatusCode(err) !== 404) throw err;
        try {
          await this.core.createNamespacedSecret({
            namespace: this.namespace,
            body: {
              metadata: {
                name: this.name,
                namespace: this.namespace,
                labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [INSTANCE_KEY]: this.instance },
              },
              type: "Opaque",
              data: { [tokenName]: value },
            },
          });
          return true;
        } catch (createErr) {
          if (apiStatusCode(createErr) !== 409) throw createErr;
          continue; // made by someone else meanwhile: add to theirs
        }
      }
      if (secret.data?.[tokenName] !== undefined) return false;
      try {
        // The resourceVersion makes a concurrent change a conflict, retried on fresh data.
        await this.core.replaceNamespacedSecret({
          name: this.name,
          namespace: this.namespace,
          body: { ...secret, data: { ...secret.data, [tokenName]: value } },
        });
        return true;
      } catch (err) {
        if (apiStatusCode(err) !== 409) throw err;
      }
    }
    throw new Error(`Secret ${this.namespace}/${this.name} kept changing; try again`);
  }

  /** Removes a token; false when there was none of that name. */
  async revoke(tokenName: string): Promise<boolean> {
    const records = await this.list();
    if (!(tokenName in records)) return false;
    const path = `/data/${tokenName.replace(/~/g, "~0").replace(/\//g, "~1")}`;
    try {
      await this.core.patchNamespacedSecret(
        { name: this.name, namespace: this.namespace, body: [{ op: "remove", path }] },
        setHeaderOptions("Content-Type", PatchStrategy.JsonPatch),
      );
    } catch (err) {
      // 422: removed meanwhile by someone else, which is what was asked.
      if (apiStatusCode(err) !== 422) throw err;
    }
    return true;
  }
}

/**
 * What the portal checks tokens against: the store's records, re-read at most every `maxAgeMs`
 * (a revoked or new token takes effect within that time) and kept when a re-read fails.
 */
export function cachedScimTokens(
  store: Pick<ScimTokenStore, "list">,
  maxAgeMs = 5_000,
  now: () => number = Date.now,
): () => Promise<ScimTokenRecords> {
  let cached: { at: number; records: ScimTokenRecords } | undefined;
  let pending: Promise<ScimTokenRecords> | undefined;
  return async () => {
    if (cached && now() - cached.at < maxAgeMs) return cached.records;
    pending ??= store
      .list()
      .then(
        (records) => {
          cached = { at: now(), records };
          return records;
        },
        (err: unknown) => {
          if (cached) return cached.records;
          throw err;
        },
      )
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
}
