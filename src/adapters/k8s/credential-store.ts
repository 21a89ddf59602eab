import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { ownedBy, recordFor, type CredentialRecord } from "../../identity/credentials.ts";
import { Informer } from "../../runtime/informer.ts";
import { apiStatusCode } from "../../runtime/api-errors.ts";
import { MANAGED_BY, MANAGED_BY_LABEL } from "../../plan/naming.ts";
import { SecretRequests } from "./secret-requests.ts";

const KEY = "credentials.json";
// Enough for a burst of parallel sign-ins on one name: each round one writer wins.
const UPDATE_ATTEMPTS = 30;
// Secrets remembered as last read or written; a storm of sign-ins touches each a few times.
const REMEMBERED = 1000;
export const CREDENTIALS_LABEL = "identitycenter.dev/credentials";
/** Annotations that say whose record a Secret is, for the controller that removes stale ones. */
export const USER_NAME_ANNOTATION = "identitycenter.dev/user-name";
export const USER_UID_ANNOTATION = "identitycenter.dev/user-uid";
export const USER_OBJECT_ANNOTATION = "identitycenter.dev/user";

/** The User a userName belongs to now: its object name and uid. */
export interface CredentialOwner {
  name: string;
  uid: string;
}

/** Finds the one User with a userName now (undefined for none, or for a clash). */
export type OwnerLookup = (userName: string) => CredentialOwner | undefined;

/** Secret names must be DNS labels; userNames are not, so the name is a hash of the userName. */
export function credentialSecretName(userName: string): string {
  return `idc-credentials-${createHash("sha256").update(userName).digest("hex").slice(0, 24)}`;
}

/**
 * Each user's credentials in a Secret of the credentials namespace. A record belongs to the
 * User it was made for (its uid), not to the userName: `get` returns nothing for a record made
 * for an earlier User of the same userName, and `update` starts such a record afresh. Updates
 * carry the Secret's resourceVersion, so concurrent replicas (failure counters, lockouts) never
 * overwrite each other: a conflict means "read again and retry".
 */
export class CredentialStore {
  private readonly secrets: SecretRequests;
  private readonly namespace: string;
  private readonly ownerOf: OwnerLookup;
  /**
   * Each Secret as this process last read or wrote it: a sign-in reads the record, counts the
   * attempt and lists the session, and the writes go straight onto the version just seen instead
   * of reading it again each time. A copy that is behind costs a 409 and a fresh read.
   */
  private readonly lastSeen = new Map<string, V1Secret>();
  private readonly seen: ((secret: V1Secret) => void) | undefined;

  /**
   * `options.seen` is told of every Secret this store reads or writes, as the API server
   * answered it: the portal's session cache (CredentialSessions.observe) takes its own writes
   * from there at once instead of waiting for the watch.
   */
  constructor(
    kubeConfig: KubeConfig,
    namespace: string,
    ownerOf: OwnerLookup,
    options: { seen?: (secret: V1Secret) => void } = {},
  ) {
    this.secrets = new SecretRequests(kubeConfig, namespace);
    this.namespace = namespace;
    this.ownerOf = ownerOf;
    this.seen = options.seen;
  }

  private remember(userName: string, secret: V1Secret | undefined): void {
    this.lastSeen.delete(userName); // re-inserted last: the Map's order is the eviction order
    if (!secret) return;
    this.seen?.(secret);
    // Only what the next write needs: managedFields is most of a Secret's size.
    this.lastSeen.set(userName, {
      metadata: { resourceVersion: secret.metadata?.resourceVersion },
      data: secret.data,
    });
    if (this.lastSeen.size > REMEMBERED) {
      const oldest = this.lastSeen.keys().next();
      if (!oldest.done) this.lastSeen.delete(oldest.value);
    }
  }

  private async read(userName: string): Promise<V1Secret | undefined> {
    const secret = await this.secrets.read(credentialSecretName(userName));
    this.remember(userName, secret);
    return secret;
  }

  /** The record of the User that has `userName` now, if that User has one. */
  async get(userName: string): Promise<CredentialRecord | undefined> {
    const owner = this.ownerOf(userName);
    if (!owner) return undefined;
    const record = parseRecord(await this.read(userName));
    return record && ownedBy(record, owner.uid) ? record : undefined;
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
    const written = await this.write(userName, change, false);
    if (!written) throw new Error(`no User has userName ${userName}`);
    return written;
  }

  /**
   * `update` of a record that exists and belongs to the User that has `userName` now; for any
   * other (none, or an earlier User's) nothing is written and the answer is undefined, as `get`
   * would give. The sign-in's first step: a `get` and then an `update` would read the Secret
   * once more than needed, since the conditional write already proves the version current.
   */
  updateExisting(
    userName: string,
    change: (current: CredentialRecord) => CredentialRecord,
  ): Promise<CredentialRecord | undefined> {
    return this.write(userName, change, true);
  }

  private async write(
    userName: string,
    change: (current: CredentialRecord) => CredentialRecord,
    existingOnly: boolean,
  ): Promise<CredentialRecord | undefined> {
    let remembered = this.lastSeen.get(userName);
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS;) {
      const owner = this.ownerOf(userName);
      if (!owner) return undefined;
      const cached = remembered;
      remembered = undefined;
      const secret = cached ?? (await this.read(userName));
      const stored = parseRecord(secret);
      if (existingOnly && !(stored && ownedBy(stored, owner.uid))) {
        // A remembered copy may be behind: only a fresh read says there is no record.
        if (cached) continue;
        return undefined;
      }
      // A record made for an earlier User of this userName starts afresh (bound to the uid).
      const current = recordFor(stored, userName, owner.uid);
      const next = change(current);
      if (next === current) {
        // "Nothing to change" (no session left to revoke, a lock in force) is only true of
        // the record as it is now, and a remembered copy may be behind: ask again on a fresh one.
        if (cached) continue;
        return current;
      }
      const body: V1Secret = {
        metadata: {
          name: credentialSecretName(userName),
          namespace: this.namespace,
          labels: {
            [CREDENTIALS_LABEL]: "true",
            [MANAGED_BY_LABEL]: MANAGED_BY,
          },
          annotations: {
            [USER_NAME_ANNOTATION]: userName,
            [USER_UID_ANNOTATION]: owner.uid,
            [USER_OBJECT_ANNOTATION]: owner.name,
          },
          ...(secret?.metadata?.resourceVersion
            ? { resourceVersion: secret.metadata.resourceVersion }
            : {}),
        },
        type: "Opaque",
        data: { [KEY]: Buffer.from(JSON.stringify(next)).toString("base64") },
      };
      try {
        this.remember(
          userName,
          secret
            ? await this.secrets.replace(credentialSecretName(userName), body)
            : await this.secrets.create(body),
        );
        return next;
      } catch (err) {
        this.remember(userName, undefined);
        // Deleted since it was remembered: start from what is there now.
        if (cached && apiStatusCode(err) === 404) continue;
        if (apiStatusCode(err) !== 409) throw err;
      }
      attempt++;
      // Many replicas or requests racing for one record: spread the retries out.
      await sleep(Math.random() * 20 * Math.min(attempt, 5));
    }
    throw new Error(`credentials of ${userName} kept changing; try again`);
  }
}

/** The record a credential Secret holds. */
export function parseRecord(secret: V1Secret | undefined): CredentialRecord | undefined {
  const data = secret?.data?.[KEY];
  return data
    ? (JSON.parse(Buffer.from(data, "base64").toString("utf8")) as CredentialRecord)
    : undefined;
}

/**
 * The credential Secrets of one namespace, cached for the controller that removes the records
 * of Users that are gone or renamed (selected by our label: nothing else is read).
 */
export class CredentialRecords {
  readonly informer: Informer<V1Secret>;
  readonly namespace: string;
  private readonly core: CoreV1Api;

  constructor(kubeConfig: KubeConfig, namespace: string, log: Logger) {
    this.namespace = namespace;
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    const labelSelector = `${CREDENTIALS_LABEL}=true`;
    this.informer = new Informer<V1Secret>({
      kubeConfig,
      path: `/api/v1/namespaces/${namespace}/secrets`,
      list: () => this.core.listNamespacedSecret({ namespace, labelSelector }),
      labelSelector,
      log,
    });
  }

  /** The cached Secret of a record, by Secret name. */
  get(name: string): V1Secret | undefined {
    return this.informer.get(`${this.namespace}/${name}`);
  }

  /**
   * Deletes the record exactly as cached: if it was rewritten since (an invite for a new User
   * of the same userName), the API server refuses with a conflict and nothing is lost.
   */
  async delete(secret: V1Secret): Promise<void> {
    const { name = "", uid, resourceVersion } = secret.metadata ?? {};
    try {
      await this.core.deleteNamespacedSecret({
        name,
        namespace: this.namespace,
        body: {
          preconditions: {
            ...(uid ? { uid } : {}),
            ...(resourceVersion ? { resourceVersion } : {}),
          },
        },
      });
    } catch (err) {
      if (apiStatusCode(err) !== 404) throw err;
    }
  }

  /** Binds a record written before records were bound to a uid to the User that has it now. */
  async adopt(secret: V1Secret, owner: CredentialOwner): Promise<void> {
    const record = parseRecord(secret);
    if (!record) return;
    await this.core.replaceNamespacedSecret({
      name: secret.metadata?.name ?? "",
      namespace: this.namespace,
      body: {
        ...secret,
        metadata: {
          ...secret.metadata,
          annotations: {
            ...secret.metadata?.annotations,
            [USER_UID_ANNOTATION]: owner.uid,
            [USER_OBJECT_ANNOTATION]: owner.name,
          },
        },
        data: {
          ...secret.data,
          [KEY]: Buffer.from(JSON.stringify({ ...record, userUid: owner.uid })).toString("base64"),
        },
      },
    });
  }
}
