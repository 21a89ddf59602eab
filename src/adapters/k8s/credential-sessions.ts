import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { ownedBy, sessionRecordOf, type SessionRecord } from "../../identity/credentials.ts";
import { Informer } from "../../runtime/informer.ts";
import {
  CREDENTIALS_LABEL,
  credentialSecretName,
  parseRecord,
  type OwnerLookup,
} from "./credential-store.ts";

/**
 * A credential Secret as the session cache keeps it: the Secret's name and resourceVersion
 * (what the informer needs to key and order it) and the session check's part of the record.
 * Nothing secret: the record's password hash, TOTP secret, setup link and CLI grants are
 * dropped when the Secret arrives. No namespace either (the cache watches one): the informer
 * then keys the entry by the name string it already holds, instead of a "namespace/name" string
 * of its own per record (72 bytes of about 550, measured on 100,000 records).
 */
export interface CachedSessions {
  metadata: { name: string; resourceVersion: string };
  /** Undefined for a Secret that holds no record. */
  record: SessionRecord | undefined;
}

/** The slim form of one credential Secret (pure, exported for its unit test). */
export function cachedSessionsOf(secret: V1Secret): CachedSessions {
  let record: SessionRecord | undefined;
  try {
    const parsed = parseRecord(secret);
    record = parsed ? sessionRecordOf(parsed) : undefined;
  } catch {
    // A record that does not parse answers nothing from the cache: the check reads it again.
    record = undefined;
  }
  return {
    metadata: {
      name: secret.metadata?.name ?? "",
      resourceVersion: secret.metadata?.resourceVersion ?? "",
    },
    record,
  };
}

/**
 * What the session check needs of every user's credential record, kept by a watch on the
 * credentials namespace (only Secrets with the credentials label), so that a signed-in request
 * costs no API server round trip. The portal's own reads and writes of a record are stored at
 * once (`observe`, through the CredentialStore), so a sign-out or sign-in on this replica is
 * seen by the next request here. Secrets' resourceVersions are comparable (KEP-5504): the cache
 * never goes back a version, whichever way one arrives first. See docs/adr/0021.
 */
export class CredentialSessions {
  readonly informer: Informer<V1Secret, CachedSessions>;
  private readonly ownerOf: OwnerLookup;

  constructor(kubeConfig: KubeConfig, namespace: string, ownerOf: OwnerLookup, log: Logger) {
    this.ownerOf = ownerOf;
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const labelSelector = `${CREDENTIALS_LABEL}=true`;
    this.informer = new Informer<V1Secret, CachedSessions>({
      kubeConfig,
      path: `/api/v1/namespaces/${namespace}/secrets`,
      list: (page) =>
        core.listNamespacedSecret({
          namespace,
          labelSelector,
          limit: page.limit,
          ...(page.continue ? { _continue: page.continue } : {}),
        }),
      labelSelector,
      log,
      transform: cachedSessionsOf,
      comparableVersions: true,
    });
  }

  /**
   * The session check's part of the record of the User that has `userName` now: `undefined`
   * while the cache has not listed every record yet (ask the API server), else `{ record }`
   * with no record when the cache holds none of that User's (which may be one that has not
   * arrived yet: the check confirms a refusal with a read).
   */
  lookup(userName: string): { record: SessionRecord | undefined } | undefined {
    if (!this.informer.hasSynced()) return undefined;
    const owner = this.ownerOf(userName);
    const cached = this.informer.get(credentialSecretName(userName));
    const record = cached?.record;
    return { record: owner && record && ownedBy(record, owner.uid) ? record : undefined };
  }

  /** A credential Secret this process just read or wrote (stored when newer than the cache). */
  observe(secret: V1Secret): void {
    if (secret.metadata?.labels?.[CREDENTIALS_LABEL] !== "true") return;
    this.informer.observe(secret);
  }
}
