import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import { newRecord, type CredentialRecord } from "../../identity/credentials.ts";
import { apiStatusCode } from "../../runtime/api-errors.ts";
import { MANAGED_BY, MANAGED_BY_LABEL } from "../../plan/naming.ts";

const KEY = "credentials.json";
// Enough for a burst of parallel sign-ins on one name: each round one writer wins.
const UPDATE_ATTEMPTS = 30;
export const CREDENTIALS_LABEL = "identitycenter.dev/credentials";

/** Secret names must be DNS labels; userNames are not, so the name is a hash of the userName. */
export function credentialSecretName(userName: string): string {
  return `idc-credentials-${createHash("sha256").update(userName).digest("hex").slice(0, 24)}`;
}

/**
 * Each user's credentials in a Secret of the operator's namespace. Updates carry the Secret's
 * resourceVersion, so concurrent replicas (failure counters, lockouts) never overwrite each
 * other: a conflict means "read again and retry".
 */
export class CredentialStore {
  private readonly core: CoreV1Api;
  private readonly namespace: string;

  constructor(kubeConfig: KubeConfig, namespace: string) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.namespace = namespace;
  }

  private async read(userName: string): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({
        name: credentialSecretName(userName),
        namespace: this.namespace,
      });
    } catch (err) {
      if (apiStatusCode(err) === 404) return undefined;
      throw err;
    }
  }

  async get(userName: string): Promise<CredentialRecord | undefined> {
    const secret = await this.read(userName);
    const data = secret?.data?.[KEY];
    return data
      ? (JSON.parse(Buffer.from(data, "base64").toString("utf8")) as CredentialRecord)
      : undefined;
  }

  /**
   * Read-modify-write as a conditional write (the Secret's resourceVersion), retried on conflict
   * with `change` run again on what the winner wrote: a check made in `change` (a lock, a code
   * step, a setup token) and the write it allows are one atomic step. When `change` returns the
   * record it was given, nothing is written.
   */
  async update(
    userName: string,
    change: (current: CredentialRecord) => CredentialRecord,
  ): Promise<CredentialRecord> {
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      // Many replicas or requests racing for one record: spread the retries out.
      if (attempt > 0) await sleep(Math.random() * 20 * Math.min(attempt, 5));
      const secret = await this.read(userName);
      const current = secret?.data?.[KEY]
        ? (JSON.parse(Buffer.from(secret.data[KEY], "base64").toString("utf8")) as CredentialRecord)
        : newRecord(userName);
      const next = change(current);
      if (next === current) return current;
      const body: V1Secret = {
        metadata: {
          name: credentialSecretName(userName),
          namespace: this.namespace,
          labels: {
            [CREDENTIALS_LABEL]: "true",
            [MANAGED_BY_LABEL]: MANAGED_BY,
          },
          annotations: { "identitycenter.dev/user-name": userName },
          ...(secret?.metadata?.resourceVersion
            ? { resourceVersion: secret.metadata.resourceVersion }
            : {}),
        },
        type: "Opaque",
        data: { [KEY]: Buffer.from(JSON.stringify(next)).toString("base64") },
      };
      try {
        if (secret)
          await this.core.replaceNamespacedSecret({
            name: credentialSecretName(userName),
            namespace: this.namespace,
            body,
          });
        else await this.core.createNamespacedSecret({ namespace: this.namespace, body });
        return next;
      } catch (err) {
        if (apiStatusCode(err) !== 409) throw err;
      }
    }
    throw new Error(`credentials of ${userName} kept changing; try again`);
  }
}
