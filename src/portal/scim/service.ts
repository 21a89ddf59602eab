import type { Group, User } from "../../api/v1alpha1/index.ts";
import type { DirectoryIndex } from "../../identity/directory-index.ts";
import { ScimError } from "../../plan/scim/errors.ts";
import { matches, parseFilter, requiredEquality, type Filter } from "../../plan/scim/filter.ts";
import { applyPatch, patchOperations } from "../../plan/scim/patch.ts";
import {
  EXTERNAL_ID_ANNOTATION,
  GROUP_TARGET,
  USER_TARGET,
  groupFields,
  groupResource,
  groupSpec,
  managedByScim,
  nonScimAttributes,
  scimIdOf,
  userFields,
  userResource,
  type MemberRef,
} from "../../plan/scim/resources.ts";
import {
  DEFAULT_PAGE_SIZE,
  GROUP_SCHEMA,
  KNOWN_SCHEMAS,
  LIST_SCHEMA,
  MAX_PAGE_SIZE,
  USER_SCHEMA,
} from "../../plan/scim/schemas.ts";
import { apiStatusCode } from "../../runtime/api-errors.ts";
import type { PortalStores } from "../context.ts";
import {
  ScimKind,
  assertScimOwned,
  assertVersion,
  changed,
  newScimId,
  scimErrorOfApi,
  scimMetadata,
  type ScimBackend,
} from "./directory.ts";

type Json = Record<string, unknown>;

export interface ListQuery {
  filter?: string;
  startIndex?: string;
  count?: string;
  attributes?: string;
  excludedAttributes?: string;
}

const API_VERSION = "identitycenter.dev/v1alpha1";

const versionIn = (resource: Json) => String((resource.meta as { version?: string }).version);
const CONFLICT_RETRIES = 5;

function pageOf(query: ListQuery): { start: number; count: number } {
  const start = Math.max(1, Math.trunc(Number(query.startIndex ?? "1")) || 1);
  const asked = query.count === undefined ? DEFAULT_PAGE_SIZE : Math.trunc(Number(query.count));
  const count = Number.isFinite(asked)
    ? Math.min(Math.max(0, asked), MAX_PAGE_SIZE)
    : DEFAULT_PAGE_SIZE;
  return { start, count };
}

const splitList = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((a) => a.trim().toLowerCase())
    .filter((a) => a !== "");

/**
 * `attributes` / `excludedAttributes` (RFC 7644 3.9) on a resource: names at the top level,
 * dotted sub-attributes, and extension attributes by URN. id and schemas are always returned.
 */
export function project(resource: Json, attributes?: string, excluded?: string): Json {
  const only = splitList(attributes);
  const drop = splitList(excluded);
  if (only.length === 0 && drop.length === 0) return resource;
  const urnOf = (key: string) => (key.startsWith("urn:") ? key.toLowerCase() : undefined);
  const out: Json = {};
  for (const [key, value] of Object.entries(resource)) {
    const lower = key.toLowerCase();
    if (lower === "id" || lower === "schemas") {
      out[key] = value;
      continue;
    }
    const urn = urnOf(key);
    if (urn && typeof value === "object" && value !== null) {
      const sub = project(
        value as Json,
        only.length > 0
          ? only
              .filter((a) => a.startsWith(`${urn}:`))
              .map((a) => a.slice(urn.length + 1))
              .join(",") || (only.includes(urn) ? "" : "\u0000")
          : undefined,
        drop
          .filter((a) => a.startsWith(`${urn}:`))
          .map((a) => a.slice(urn.length + 1))
          .join(","),
      );
      if (drop.includes(urn) || Object.keys(sub).length === 0) continue;
      out[key] = sub;
      continue;
    }
    if (drop.includes(lower)) continue;
    const subDrops = drop
      .filter((a) => a.startsWith(`${lower}.`))
      .map((a) => a.slice(lower.length + 1));
    const subOnly = only
      .filter((a) => a.startsWith(`${lower}.`))
      .map((a) => a.slice(lower.length + 1));
    const wanted =
      only.length === 0 ||
      only.includes(lower) ||
      only.includes(`${USER_SCHEMA.toLowerCase()}:${lower}`) ||
      subOnly.length > 0;
    if (!wanted) continue;
    if (
      (subDrops.length > 0 || (subOnly.length > 0 && !only.includes(lower))) &&
      typeof value === "object" &&
      value !== null
    ) {
      const keep = (item: Json) =>
        Object.fromEntries(
          Object.entries(item).filter(
            ([k]) =>
              !subDrops.includes(k.toLowerCase()) &&
              (subOnly.length === 0 || only.includes(lower) || subOnly.includes(k.toLowerCase())),
          ),
        );
      out[key] = Array.isArray(value)
        ? value.map((v: unknown) => (typeof v === "object" && v !== null ? keep(v as Json) : v))
        : keep(value as Json);
      continue;
    }
    out[key] = value;
  }
  return out;
}

/**
 * The SCIM service over our Users and Groups: lookups from the caches, writes through the API
 * server, only of objects labelled as SCIM's, never of an unchanged object.
 */
export class ScimService {
  readonly users: ScimKind<User>;
  readonly groups: ScimKind<Group>;
  private readonly directory: DirectoryIndex;
  private readonly now: () => Date;
  /** The SCIM base URL (resources' locations and member $refs are under it). */
  private readonly base: () => string;

  constructor(stores: PortalStores, backend: ScimBackend, now: () => Date, base: () => string) {
    this.base = base;
    const ms = () => now().getTime();
    this.users = new ScimKind(stores.users.informer, backend.users, ms);
    this.groups = new ScimKind(stores.groups.informer, backend.groups, ms);
    this.directory = stores.directory;
    this.now = now;
  }

  // ---- lookups -------------------------------------------------------------------------

  /** The SCIM users with this userName (ignoring case), as this replica knows them. */
  private usersNamed(userName: string): User[] {
    const lower = userName.toLowerCase();
    const named = [...this.directory.usersWithUserName(userName)]
      .map((n) => this.users.get(n))
      .filter((u) => u !== undefined && u.spec.userName.toLowerCase() === lower) as User[];
    // Written here and not in the cache yet (a burst of creates): the cache's index lags.
    for (const u of this.users.recentObjects())
      if (
        u.spec.userName.toLowerCase() === lower &&
        !named.some((n) => n.metadata.name === u.metadata.name)
      )
        named.push(u);
    return named;
  }

  private member() {
    return (userName: string): MemberRef | undefined => {
      for (const name of this.directory.usersWithUserName(userName)) {
        const user = this.users.get(name);
        const id = user ? scimIdOf(user) : undefined;
        if (user && id)
          return {
            id,
            userName: user.spec.userName,
            display: user.spec.displayName ?? user.spec.userName,
          };
      }
      return undefined;
    };
  }

  private readonly userVersion = (user: User) => versionIn(this.userJson(user, this.base()));
  private readonly groupVersion = (group: Group) => versionIn(this.groupJson(group, this.base()));

  userJson(user: User, base: string): Json {
    return userResource(user, base);
  }

  groupJson(group: Group, base: string, excludeMembers = false): Json {
    return groupResource(group, base, this.member(), { excludeMembers });
  }

  private candidates<T extends User | Group>(kind: ScimKind<T>, filter: Filter | undefined): T[] {
    const eq = filter ? requiredEquality(filter) : undefined;
    let found: T[];
    if (eq?.attr === "id") {
      const name = kind.nameOf(eq.value);
      const obj = name ? kind.get(name) : undefined;
      found = obj ? [obj] : [];
    } else if (eq?.attr === "username" && kind === (this.users as ScimKind<T>)) {
      found = this.usersNamed(eq.value) as T[];
    } else if (eq?.attr === "externalid") {
      found = kind
        .list()
        .filter((o) => o.metadata.annotations?.[EXTERNAL_ID_ANNOTATION] === eq.value);
    } else if (eq?.attr === "displayname") {
      const lower = eq.value.toLowerCase();
      found = kind.list().filter((o) => (o.spec.displayName ?? "").toLowerCase() === lower);
    } else {
      found = kind.list();
    }
    return found.filter(managedByScim);
  }

  /** A query of one kind, or of both (`/.search` at the root, RFC 7644 3.4.3). */
  list(type: "User" | "Group" | "all", query: ListQuery, base: string): Json {
    const filter = query.filter ? parseFilter(query.filter, KNOWN_SCHEMAS) : undefined;
    const excludeMembers = splitList(query.excludedAttributes).includes("members");
    const users = () =>
      this.candidates(this.users, filter)
        .map((u) => this.userJson(u, base))
        .filter((r) => !filter || matches(r, filter, USER_SCHEMA));
    const groups = () =>
      this.candidates(this.groups, filter)
        .map((g) => this.groupJson(g, base, excludeMembers))
        .filter((r) => !filter || matches(r, filter, GROUP_SCHEMA));
    const byId = (a: Json, b: Json) => (String(a.id) < String(b.id) ? -1 : 1);
    const matching =
      type === "User"
        ? users().sort(byId)
        : type === "Group"
          ? groups().sort(byId)
          : [...users().sort(byId), ...groups().sort(byId)];
    const { start, count } = pageOf(query);
    const page = matching.slice(start - 1, start - 1 + count);
    return {
      schemas: [LIST_SCHEMA],
      totalResults: matching.length,
      itemsPerPage: page.length,
      startIndex: start,
      Resources: page.map((r) => project(r, query.attributes, query.excludedAttributes)),
    };
  }

  async loadUser(id: string): Promise<User> {
    const user = await this.users.load(id);
    if (!user || !managedByScim(user)) throw new ScimError(404, `no User has id ${id}`);
    return user;
  }

  async loadGroup(id: string): Promise<Group> {
    const group = await this.groups.load(id);
    if (!group || !managedByScim(group)) throw new ScimError(404, `no Group has id ${id}`);
    return group;
  }

  // ---- users ---------------------------------------------------------------------------

  private assertUserNameFree(userName: string, except?: User): void {
    const other = this.usersNamed(userName).find((u) => u.metadata.name !== except?.metadata.name);
    if (!other) return;
    const detail = managedByScim(other)
      ? `a User with userName ${userName} exists already`
      : `userName ${userName} belongs to User ${other.metadata.name}, which is not managed by SCIM (GitOps or kubectl own it); SCIM does not take it over`;
    throw new ScimError(409, detail, "uniqueness");
  }

  async createUser(body: Json): Promise<User> {
    const fields = userFields(body);
    this.assertUserNameFree(fields.spec.userName);
    const id = newScimId();
    return this.create(this.users, () => {
      const name = this.users.freeName(fields.spec.userName);
      return {
        apiVersion: API_VERSION,
        kind: "User",
        metadata: {
          name,
          ...scimMetadata(
            undefined,
            {
              id,
              externalId: fields.externalId,
              emails: fields.emails,
              activeOmitted: fields.activeOmitted,
            },
            this.now(),
          ),
        },
        spec: fields.spec,
      };
    });
  }

  /**
   * Creates the object `build` makes. A 409 means its name was taken by an object this replica
   * had not seen: that one is remembered, so the next `build` picks another free name.
   */
  private async create<T extends User | Group>(kind: ScimKind<T>, build: () => T): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const obj = build();
      try {
        const stored = await kind.api.create(obj);
        kind.remember(stored);
        return stored;
      } catch (err) {
        if (apiStatusCode(err) === 409 && attempt < CONFLICT_RETRIES) {
          kind.remember(obj);
          continue;
        }
        throw scimErrorOfApi(err) ?? err;
      }
    }
  }

  /**
   * Read-modify-write of one SCIM object: refused unless SCIM owns it and the version matches
   * If-Match; an unchanged result writes nothing; a conflict with another writer re-reads and
   * computes again, If-Match checked again against what is there now.
   */
  private async update<T extends User | Group>(
    kind: ScimKind<T>,
    { id, ifMatch }: { id: string; ifMatch: string | undefined },
    compute: (current: T) => Promise<T> | T,
    versionOf: (current: T) => string,
  ): Promise<{ before: T; after: T }> {
    for (let attempt = 0; ; attempt++) {
      const current = await kind.load(id);
      if (!current)
        throw new ScimError(
          404,
          `no ${kind === (this.users as ScimKind<T>) ? "User" : "Group"} has id ${id}`,
        );
      assertScimOwned(current);
      assertVersion(versionOf(current), ifMatch);
      const next = await compute(current);
      if (!changed(current, next)) return { before: current, after: current };
      try {
        const stored = await kind.api.replace(next);
        kind.remember(stored);
        return { before: current, after: stored };
      } catch (err) {
        // A conflict is often only the controller's status write: re-read, check If-Match
        // against the SCIM version again, and compute again.
        if (apiStatusCode(err) === 409 && attempt < CONFLICT_RETRIES) continue;
        throw scimErrorOfApi(err) ?? err;
      }
    }
  }

  private nextUser(current: User, body: Json): User {
    const fields = userFields(body, nonScimAttributes(current));
    if (fields.spec.userName.toLowerCase() !== current.spec.userName.toLowerCase())
      this.assertUserNameFree(fields.spec.userName, current);
    const id = scimIdOf(current) ?? "";
    return {
      ...current,
      metadata: {
        ...current.metadata,
        ...scimMetadata(
          current.metadata,
          {
            id,
            externalId: fields.externalId,
            emails: fields.emails,
            activeOmitted: fields.activeOmitted,
          },
          this.now(),
        ),
      },
      spec: fields.spec,
    };
  }

  /** PUT replaces what the client may write; what it leaves out is cleared (RFC 7644 3.5.1). */
  async replaceUser(id: string, body: Json, ifMatch: string | undefined): Promise<User> {
    const { before, after } = await this.update(
      this.users,
      { id, ifMatch: ifMatch },
      (current) => this.nextUser(current, body),
      this.userVersion,
    );
    await this.followUserName(before, after);
    return after;
  }

  async patchUser(
    id: string,
    body: unknown,
    ifMatch: string | undefined,
    base: string,
  ): Promise<User> {
    const ops = patchOperations(body);
    const { before, after } = await this.update(
      this.users,
      { id, ifMatch: ifMatch },
      (current) =>
        this.nextUser(current, applyPatch(this.userJson(current, base), ops, USER_TARGET)),
      this.userVersion,
    );
    await this.followUserName(before, after);
    return after;
  }

  async deleteUser(id: string, ifMatch: string | undefined): Promise<void> {
    const user = await this.users.load(id);
    if (!user) throw new ScimError(404, `no User has id ${id}`);
    assertScimOwned(user);
    assertVersion(this.userVersion(user), ifMatch);
    if (!(await this.users.api.delete(user))) throw new ScimError(404, `no User has id ${id}`);
    this.users.forget(user);
    await this.rewriteMemberships(user.spec.userName, undefined);
  }

  /** Groups name members by userName: a renamed user's SCIM groups follow the new name. */
  private async followUserName(before: User, after: User): Promise<void> {
    if (before.spec.userName !== after.spec.userName)
      await this.rewriteMemberships(before.spec.userName, after.spec.userName);
  }

  private async rewriteMemberships(from: string, to: string | undefined): Promise<void> {
    const lower = from.toLowerCase();
    for (const name of [...this.directory.groupsWithMember(from)]) {
      const group = this.groups.get(name);
      const id = group ? scimIdOf(group) : undefined;
      if (!group || !id || !managedByScim(group)) continue; // GitOps groups are GitOps's to fix
      await this.update(
        this.groups,
        { id, ifMatch: undefined },
        (current) => {
          const members = current.spec.members.flatMap((m) =>
            m.toLowerCase() === lower ? (to ? [to] : []) : [m],
          );
          return { ...current, spec: { ...current.spec, members: [...new Set(members)] } };
        },
        this.groupVersion,
      );
    }
  }

  // ---- groups --------------------------------------------------------------------------

  /** userNames of the users with these SCIM ids; an unknown id is the client's error. */
  private async memberUserNames(ids: string[]): Promise<string[]> {
    const found = await this.users.namesOf(ids);
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length > 0)
      throw new ScimError(
        400,
        `no User has id ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ` (and ${String(missing.length - 5)} more)` : ""}; members must be Users of this service`,
        "invalidValue",
      );
    return ids.map((id) => found.get(id)?.spec.userName ?? "");
  }

  async createGroup(body: Json): Promise<Group> {
    const fields = groupFields(body);
    const members = await this.memberUserNames(fields.memberIds);
    const id = newScimId();
    return this.create(this.groups, () => {
      return {
        apiVersion: API_VERSION,
        kind: "Group",
        metadata: {
          name: this.groups.freeName(fields.displayName),
          ...scimMetadata(undefined, { id, externalId: fields.externalId }, this.now()),
        },
        spec: groupSpec(fields, members),
      };
    });
  }

  private async nextGroup(current: Group, body: Json): Promise<Group> {
    const fields = groupFields(body);
    const members = await this.memberUserNames(fields.memberIds);
    const id = scimIdOf(current) ?? "";
    return {
      ...current,
      metadata: {
        ...current.metadata,
        ...scimMetadata(current.metadata, { id, externalId: fields.externalId }, this.now()),
      },
      spec: groupSpec(fields, members, current.spec),
    };
  }

  async replaceGroup(id: string, body: Json, ifMatch: string | undefined): Promise<Group> {
    return (
      await this.update(
        this.groups,
        { id, ifMatch: ifMatch },
        (current) => this.nextGroup(current, body),
        this.groupVersion,
      )
    ).after;
  }

  async patchGroup(
    id: string,
    body: unknown,
    ifMatch: string | undefined,
    base: string,
  ): Promise<Group> {
    const ops = patchOperations(body);
    return (
      await this.update(
        this.groups,
        { id, ifMatch: ifMatch },
        (current) =>
          this.nextGroup(current, applyPatch(this.groupJson(current, base), ops, GROUP_TARGET)),
        this.groupVersion,
      )
    ).after;
  }

  async deleteGroup(id: string, ifMatch: string | undefined): Promise<void> {
    const group = await this.groups.load(id);
    if (!group) throw new ScimError(404, `no Group has id ${id}`);
    assertScimOwned(group);
    assertVersion(this.groupVersion(group), ifMatch);
    if (!(await this.groups.api.delete(group))) throw new ScimError(404, `no Group has id ${id}`);
    this.groups.forget(group);
  }
}
