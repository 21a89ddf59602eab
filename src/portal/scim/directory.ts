import { randomBytes, randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import type { Group, User } from "../../api/v1alpha1/index.ts";
import { MANAGED_BY_SCIM, MANAGED_BY_SOURCE_LABEL } from "../../plan/naming.ts";
import { ScimError } from "../../plan/scim/errors.ts";
import {
  ACTIVE_OMITTED_ANNOTATION,
  EMAILS_ANNOTATION,
  EXTERNAL_ID_ANNOTATION,
  LAST_MODIFIED_ANNOTATION,
  SCIM_ID_LABEL,
  managedByScim,
  objectNameFor,
  scimIdOf,
} from "../../plan/scim/resources.ts";
import type { ScimTokenRecords } from "../../plan/scim/tokens.ts";
import { apiErrorMessage, apiStatusCode } from "../../runtime/api-errors.ts";
import type { Change } from "../../runtime/informer.ts";
import type { WatchedLookup } from "../context.ts";
import type { ThrottleLimit } from "../throttle.ts";

/** The API server calls SCIM makes for one kind (CustomResourceClient has them). */
export interface ScimObjects<T> {
  find(name: string): Promise<T | undefined>;
  select(labelSelector: string): Promise<T[]>;
  create(obj: T): Promise<T>;
  replace(obj: T): Promise<T>;
  delete(obj: T): Promise<boolean>;
}

/** What the portal needs to serve SCIM: writers for Users and Groups, and the token hashes. */
export interface ScimBackend {
  users: ScimObjects<User>;
  groups: ScimObjects<Group>;
  /** The stored token hashes (cached by the caller: see cachedScimTokens). */
  tokens: () => Promise<ScimTokenRecords>;
  /** Requests one client address may make (default 6000 a minute: a full sync's burst). */
  rateLimit?: ThrottleLimit;
}

/** How long an object this replica wrote stands in for the cache, until the cache has caught up. */
const RECENT_MS = 30_000;

/** A SCIM id as it may appear in a URL or a label selector (what randomUUID makes, and more). */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

type Kind = User | Group;

/**
 * One kind as SCIM sees it: the informer's cache, an index from SCIM id to object name, and the
 * objects this replica wrote or deleted that the cache has not seen yet (so a client that
 * creates and then lists or adds to a group finds what it made). Reads of one object go to the
 * API server; lists and filters use the cache.
 */
export class ScimKind<T extends Kind> {
  readonly api: ScimObjects<T>;
  private readonly cache: WatchedLookup<T>;
  private readonly ids = new Map<string, string>();
  private readonly recent = new Map<string, { obj: T | undefined; at: number }>();
  private readonly now: () => number;

  constructor(cache: WatchedLookup<T>, api: ScimObjects<T>, now: () => number) {
    this.cache = cache;
    this.api = api;
    this.now = now;
    cache.onChange((change: Change<T>) => {
      const { object, old } = change;
      const oldId = old ? scimIdOf(old) : undefined;
      if (oldId) this.ids.delete(oldId);
      const id = scimIdOf(object);
      if (id && change.type !== "delete") this.ids.set(id, object.metadata.name);
      if (id && change.type === "delete") this.ids.delete(id);
      this.recent.delete(object.metadata.name);
    });
  }

  remember(obj: T): void {
    const id = scimIdOf(obj);
    if (id) this.ids.set(id, obj.metadata.name);
    this.recent.set(obj.metadata.name, { obj, at: this.now() });
  }

  forget(obj: T): void {
    const id = scimIdOf(obj);
    if (id) this.ids.delete(id);
    this.recent.set(obj.metadata.name, { obj: undefined, at: this.now() });
  }

  private fresh(name: string) {
    const entry = this.recent.get(name);
    if (!entry) return undefined;
    if (this.now() - entry.at > RECENT_MS) {
      this.recent.delete(name);
      return undefined;
    }
    return entry;
  }

  /** The object of that name as this replica knows it best (its own write, else the cache). */
  get(name: string): T | undefined {
    const entry = this.fresh(name);
    return entry ? entry.obj : this.cache.get(name);
  }

  /** Every object, this replica's recent writes in place of the cache's older copies. */
  list(): T[] {
    const byName = new Map(this.cache.list().map((o) => [o.metadata.name, o] as const));
    for (const name of [...this.recent.keys()]) {
      const entry = this.fresh(name);
      if (!entry) continue;
      if (entry.obj) byName.set(name, entry.obj);
      else byName.delete(name);
    }
    return [...byName.values()];
  }

  /** The objects this replica wrote that the cache has not caught up with. */
  recentObjects(): T[] {
    const out: T[] = [];
    for (const name of [...this.recent.keys()]) {
      const obj = this.fresh(name)?.obj;
      if (obj) out.push(obj);
    }
    return out;
  }

  nameOf(id: string): string | undefined {
    return this.ids.get(id);
  }

  /** The object with this SCIM id, read from the API server; undefined when there is none. */
  async load(id: string): Promise<T | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    let name = this.ids.get(id);
    if (!name) name = (await this.api.select(`${SCIM_ID_LABEL}=${id}`))[0]?.metadata.name;
    if (!name) return undefined;
    const obj = await this.api.find(name);
    return obj && scimIdOf(obj) === id ? obj : undefined;
  }

  /** Names of the objects with these SCIM ids: the index first, one API list for the rest. */
  async namesOf(ids: string[]): Promise<Map<string, T>> {
    const found = new Map<string, T>();
    const missing: string[] = [];
    for (const id of ids) {
      const name = this.ids.get(id);
      const obj = name ? this.get(name) : undefined;
      if (obj) found.set(id, obj);
      else missing.push(id);
    }
    const valid = missing.filter((id) => ID_PATTERN.test(id));
    for (let i = 0; i < valid.length; i += 100) {
      const chunk = valid.slice(i, i + 100);
      for (const obj of await this.api.select(`${SCIM_ID_LABEL} in (${chunk.join(",")})`)) {
        const id = scimIdOf(obj);
        if (id) found.set(id, obj);
      }
    }
    return found;
  }

  /** A name for a new object from `wanted`, not taken by any object this replica knows of. */
  freeName(wanted: string): string {
    const base = objectNameFor(wanted);
    return this.get(base) ? objectNameFor(wanted, randomBytes(3).toString("hex")) : base;
  }
}

/** The object must be SCIM's: anything else is GitOps's (or just-in-time provisioning's). */
export function assertScimOwned(obj: Kind): void {
  if (managedByScim(obj)) return;
  const owner = obj.metadata.labels?.[MANAGED_BY_SOURCE_LABEL];
  throw new ScimError(
    403,
    `${obj.kind} ${obj.metadata.name} is not managed by SCIM (label ${MANAGED_BY_SOURCE_LABEL} is ${owner ? `"${owner}"` : "not set"}): it belongs to ${owner ?? "GitOps or kubectl"}, so SCIM does not change it`,
  );
}

/** If-Match (RFC 7644 3.14): the stored version must be the one the client last saw. */
export function assertVersion(version: string, ifMatch: string | undefined): void {
  if (ifMatch === undefined || ifMatch.trim() === "*") return;
  const wanted = ifMatch.split(",").map((t) => t.trim().replace(/^W\//, ""));
  if (!wanted.includes(version.replace(/^W\//, "")))
    throw new ScimError(412, `the resource changed since version ${ifMatch}; read it again`);
}

/** Labels and annotations that say an object is SCIM's and carry its SCIM-only data. */
export function scimMetadata(
  current: Kind["metadata"] | undefined,
  fields: {
    id: string;
    externalId: string | undefined;
    emails?: unknown[];
    activeOmitted?: boolean;
  },
  now: Date,
): Pick<Kind["metadata"], "labels" | "annotations"> {
  const annotations: Record<string, string> = { ...(current?.annotations ?? {}) };
  Reflect.deleteProperty(annotations, EXTERNAL_ID_ANNOTATION);
  Reflect.deleteProperty(annotations, EMAILS_ANNOTATION);
  Reflect.deleteProperty(annotations, ACTIVE_OMITTED_ANNOTATION);
  if (fields.activeOmitted) annotations[ACTIVE_OMITTED_ANNOTATION] = "true";
  if (fields.externalId !== undefined) annotations[EXTERNAL_ID_ANNOTATION] = fields.externalId;
  if (fields.emails && fields.emails.length > 0)
    annotations[EMAILS_ANNOTATION] = JSON.stringify(fields.emails);
  // Written only with a change (see `changed`, which ignores it).
  annotations[LAST_MODIFIED_ANNOTATION] = now.toISOString();
  return {
    labels: {
      ...(current?.labels ?? {}),
      [MANAGED_BY_SOURCE_LABEL]: MANAGED_BY_SCIM,
      [SCIM_ID_LABEL]: fields.id,
    },
    annotations,
  };
}

/**
 * Whether `next` differs from `current` in what SCIM writes (spec, labels, annotations other
 * than the last-modified time): an unchanged resource is never written, so a repeated full
 * sync costs the API server reads only.
 */
export function changed(current: Kind, next: Kind): boolean {
  const strip = (a: Record<string, string> | undefined) => {
    const copy = { ...(a ?? {}) };
    Reflect.deleteProperty(copy, LAST_MODIFIED_ANNOTATION);
    return copy;
  };
  return (
    !isDeepStrictEqual(current.spec, next.spec) ||
    !isDeepStrictEqual(current.metadata.labels ?? {}, next.metadata.labels ?? {}) ||
    !isDeepStrictEqual(strip(current.metadata.annotations), strip(next.metadata.annotations))
  );
}

export const newScimId = () => randomUUID();

/** An API server refusal as a SCIM error (the admission policy's message included). */
export function scimErrorOfApi(err: unknown): ScimError | undefined {
  const status = apiStatusCode(err);
  const message = apiErrorMessage(err);
  if (status === 409) return new ScimError(409, message, "uniqueness");
  if (status === 422 || status === 400) return new ScimError(400, message, "invalidValue");
  if (status === 403) return new ScimError(403, message);
  if (status === 404) return new ScimError(404, "no such resource");
  return undefined;
}
