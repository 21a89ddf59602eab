/**
 * SCIM Users and Groups <-> our User and Group objects (pure). The SCIM id is a generated UUID
 * in a label (stable when the userName or displayName changes, never reused); externalId and
 * the emails list are annotations; the enterprise extension's attributes are the User's
 * `attributes` (so ABAC and application mappings can use them).
 */
import { createHash } from "node:crypto";
import type { Group, GroupSpec, User, UserSpec } from "../../api/v1alpha1/index.ts";
import { MANAGED_BY_SCIM, MANAGED_BY_SOURCE_LABEL } from "../../plan/naming.ts";
import { ScimError } from "./errors.ts";
import { findKey } from "./filter.ts";
import type { PatchTarget } from "./patch.ts";
import { ENTERPRISE_SCHEMA, GROUP_SCHEMA, MAX_GROUP_MEMBERS, USER_SCHEMA } from "./schemas.ts";

export const SCIM_ID_LABEL = "identitycenter.dev/scim-id";
export const EXTERNAL_ID_ANNOTATION = "identitycenter.dev/scim-external-id";
export const EMAILS_ANNOTATION = "identitycenter.dev/scim-emails";
/** Set when the client left `active` out (or removed it): the User is active, SCIM shows none. */
export const ACTIVE_OMITTED_ANNOTATION = "identitycenter.dev/scim-active-omitted";
/** When SCIM last changed the object (SCIM's meta.lastModified). */
export const LAST_MODIFIED_ANNOTATION = "identitycenter.dev/scim-last-modified";

type Json = Record<string, unknown>;

const ENTERPRISE_STRINGS = [
  "employeeNumber",
  "costCenter",
  "organization",
  "division",
  "department",
] as const;

const READ_ONLY = new Set(["id", "meta", "schemas", "groups"]);

export const USER_TARGET: PatchTarget = {
  coreSchema: USER_SCHEMA,
  multiValued: new Set(["emails"]),
  canonical: new Map(
    [
      "userName",
      "name",
      "givenName",
      "familyName",
      "displayName",
      "active",
      "emails",
      "value",
      "type",
      "primary",
      "externalId",
      "manager",
      ...ENTERPRISE_STRINGS,
    ].map((n) => [n.toLowerCase(), n]),
  ),
  readOnly: READ_ONLY,
};

export const GROUP_TARGET: PatchTarget = {
  coreSchema: GROUP_SCHEMA,
  multiValued: new Set(["members"]),
  canonical: new Map(
    ["displayName", "members", "value", "display", "$ref", "type", "externalId"].map((n) => [
      n.toLowerCase(),
      n,
    ]),
  ),
  readOnly: READ_ONLY,
};

/** Whether SCIM owns the object (and so may change it). */
export const managedByScim = (obj: { metadata: { labels?: Record<string, string> } }) =>
  obj.metadata.labels?.[MANAGED_BY_SOURCE_LABEL] === MANAGED_BY_SCIM;

export const scimIdOf = (obj: { metadata: { labels?: Record<string, string> } }) =>
  obj.metadata.labels?.[SCIM_ID_LABEL];

/**
 * The version (ETag, RFC 7644 3.14) of a resource: a hash of what SCIM shows of it. Not the
 * resourceVersion, which the controller's status writes move without any SCIM change (a client
 * holding an ETag would then get 412s it cannot explain).
 */
export function versionOf(resource: Json): string {
  const hash = createHash("sha256").update(JSON.stringify(resource)).digest("base64url");
  return `W/"${hash.slice(0, 22)}"`;
}

function withMeta(
  obj: User | Group,
  resourceType: "User" | "Group",
  location: string,
  body: Json,
): Json {
  const created = obj.metadata.creationTimestamp
    ? new Date(obj.metadata.creationTimestamp).toISOString()
    : undefined;
  const lastModified = obj.metadata.annotations?.[LAST_MODIFIED_ANNOTATION] ?? created;
  const meta = {
    resourceType,
    ...(created ? { created } : {}),
    ...(lastModified ? { lastModified } : {}),
    location,
    version: versionOf(body),
  };
  return { ...body, meta };
}

function get(obj: Json, name: string): unknown {
  const key = findKey(obj, name);
  return key === undefined ? undefined : obj[key];
}

function optionalString(obj: Json, name: string, what = name): string | undefined {
  const v = get(obj, name);
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw new ScimError(400, `${what} must be a string`, "invalidValue");
  return v;
}

/** `active` as a boolean; some Entra ID tenants send the strings "True" and "False". */
function activeOf(obj: Json): boolean {
  const v = get(obj, "active");
  if (v === undefined || v === null) return true;
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(true|false)$/i.test(v)) return v.toLowerCase() === "true";
  throw new ScimError(400, "active must be true or false", "invalidValue");
}

interface Email {
  value: string;
  type?: string;
  primary?: boolean;
}

function emailsOf(obj: Json): Email[] {
  const v = get(obj, "emails");
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ScimError(400, "emails must be a list", "invalidValue");
  return v.map((e) => {
    if (typeof e !== "object" || e === null)
      throw new ScimError(400, "each email must be an object", "invalidValue");
    const value = optionalString(e as Json, "value", "emails.value");
    if (!value) throw new ScimError(400, "each email needs a value", "invalidValue");
    const type = optionalString(e as Json, "type", "emails.type");
    const primary = get(e as Json, "primary");
    const isPrimary =
      primary === true || (typeof primary === "string" && primary.toLowerCase() === "true");
    return {
      value,
      ...(type ? { type } : {}),
      ...(primary !== undefined ? { primary: isPrimary } : {}),
    };
  });
}

/** What a SCIM User becomes: the spec and the SCIM-only data kept in annotations. */
export interface UserFields {
  spec: UserSpec;
  externalId: string | undefined;
  emails: Email[];
  /** The client sent no `active` (the User is active). */
  activeOmitted: boolean;
}

function check(ok: boolean, detail: string): void {
  if (!ok) throw new ScimError(400, detail, "invalidValue");
}

/**
 * The User spec of a SCIM User (a POST or PUT body, or the result of a PATCH). Checks what the
 * CRD checks, so a bad value is a SCIM 400 and not an API server error. `keep` are the spec's
 * attributes that SCIM does not own (set by an admin before): they are kept.
 */
export function userFields(body: Json, keep: Record<string, string> = {}): UserFields {
  const userName = optionalString(body, "userName");
  if (!userName) throw new ScimError(400, "userName is required", "invalidValue");
  check(
    userName.length <= 128 && /^\S+$/.test(userName),
    "userName must be 1-128 characters without whitespace",
  );
  const emails = emailsOf(body);
  const email = (emails.find((e) => e.primary) ?? emails[0])?.value;
  if (!email)
    throw new ScimError(
      400,
      "emails needs at least one address: every User has an email",
      "invalidValue",
    );
  check(
    email.length <= 254 && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email),
    `"${email}" is not an email address`,
  );
  const displayName = optionalString(body, "displayName");
  check(
    displayName === undefined || (displayName.trim() !== "" && displayName.length <= 256),
    "displayName must not be blank or longer than 256 characters",
  );
  const nameValue = get(body, "name");
  const name = typeof nameValue === "object" && nameValue !== null ? (nameValue as Json) : {};
  const givenName = optionalString(name, "givenName", "name.givenName");
  const familyName = optionalString(name, "familyName", "name.familyName");
  check(
    (givenName?.length ?? 0) <= 256 && (familyName?.length ?? 0) <= 256,
    "name parts must be at most 256 characters",
  );
  const extValue = get(body, ENTERPRISE_SCHEMA);
  const ext = typeof extValue === "object" && extValue !== null ? (extValue as Json) : {};
  const attributes: Record<string, string> = { ...keep };
  for (const key of ENTERPRISE_STRINGS) {
    const v = optionalString(ext, key, `${ENTERPRISE_SCHEMA}:${key}`);
    if (v !== undefined) attributes[key] = v;
  }
  const manager = get(ext, "manager");
  const managerId =
    typeof manager === "string"
      ? manager
      : typeof manager === "object" && manager !== null
        ? optionalString(manager as Json, "value", "manager.value")
        : undefined;
  if (managerId) attributes.manager = managerId;
  check(
    Object.values(attributes).every((v) => v.length <= 256),
    "enterprise attributes must be at most 256 characters",
  );
  const spec: UserSpec = {
    userName,
    email,
    active: activeOf(body),
    ...(displayName !== undefined ? { displayName } : {}),
    ...(givenName !== undefined || familyName !== undefined
      ? {
          name: {
            ...(givenName !== undefined ? { givenName } : {}),
            ...(familyName !== undefined ? { familyName } : {}),
          },
        }
      : {}),
    ...(Object.keys(attributes).length > 0 ? { attributes } : {}),
  };
  const externalId = optionalString(body, "externalId");
  const active = get(body, "active");
  return { spec, externalId, emails, activeOmitted: active === undefined || active === null };
}

/** The attributes of a User that are not the enterprise extension's (set by hand; kept). */
export function nonScimAttributes(user: User): Record<string, string> {
  const all = user.spec.attributes ?? {};
  return Object.fromEntries(
    Object.entries(all).filter(
      ([k]) => !(ENTERPRISE_STRINGS as readonly string[]).includes(k) && k !== "manager",
    ),
  );
}

/** The SCIM representation of a User object. */
export function userResource(user: User, base: string): Json {
  const id = scimIdOf(user) ?? "";
  const annotations = user.metadata.annotations ?? {};
  const externalId = annotations[EXTERNAL_ID_ANNOTATION];
  let emails: Email[] = [{ value: user.spec.email, type: "work", primary: true }];
  const stored = annotations[EMAILS_ANNOTATION];
  if (stored) {
    try {
      const parsed = JSON.parse(stored) as Email[];
      // The spec wins when someone changed the email without the list (it is the truth).
      if (parsed.some((e) => e.value === user.spec.email)) emails = parsed;
    } catch {
      // a hand-edited annotation: the spec's email alone
    }
  }
  const attrs = user.spec.attributes ?? {};
  const enterprise: Json = {};
  for (const key of ENTERPRISE_STRINGS) if (attrs[key] !== undefined) enterprise[key] = attrs[key];
  if (attrs.manager) enterprise.manager = { value: attrs.manager };
  const hasEnterprise = Object.keys(enterprise).length > 0;
  return withMeta(user, "User", `${base}/Users/${id}`, {
    schemas: [USER_SCHEMA, ...(hasEnterprise ? [ENTERPRISE_SCHEMA] : [])],
    id,
    ...(externalId ? { externalId } : {}),
    userName: user.spec.userName,
    ...(user.spec.name ? { name: { ...user.spec.name } } : {}),
    ...(user.spec.displayName ? { displayName: user.spec.displayName } : {}),
    ...(annotations[ACTIVE_OMITTED_ANNOTATION] === "true" && user.spec.active
      ? {}
      : { active: user.spec.active }),
    emails,
    ...(hasEnterprise ? { [ENTERPRISE_SCHEMA]: enterprise } : {}),
  });
}

/** A group member as SCIM shows it: the user's SCIM id, URI and name. */
export interface MemberRef {
  id: string;
  userName: string;
  display: string;
}

/** The SCIM representation of a Group object; `member` finds each userName's SCIM user. */
export function groupResource(
  group: Group,
  base: string,
  member: (userName: string) => MemberRef | undefined,
  options: { excludeMembers?: boolean } = {},
): Json {
  const id = scimIdOf(group) ?? "";
  const externalId = group.metadata.annotations?.[EXTERNAL_ID_ANNOTATION];
  const members = options.excludeMembers
    ? []
    : group.spec.members
        .map(member)
        .filter((m) => m !== undefined)
        // No `display`: a client that did not send it (it is read-only) finds what it sent.
        .map((m) => ({ value: m.id, $ref: `${base}/Users/${m.id}`, type: "User" }));
  return withMeta(group, "Group", `${base}/Groups/${id}`, {
    schemas: [GROUP_SCHEMA],
    id,
    ...(externalId ? { externalId } : {}),
    displayName: group.spec.displayName ?? group.metadata.name,
    ...(members.length > 0 ? { members } : {}),
  });
}

export interface GroupFields {
  displayName: string;
  externalId: string | undefined;
  /** SCIM ids of the members, in order, without repeats. */
  memberIds: string[];
}

/** The fields of a SCIM Group (POST or PUT body, or a PATCH's result); members still by id. */
export function groupFields(body: Json): GroupFields {
  const displayName = optionalString(body, "displayName");
  if (!displayName || displayName.trim() === "")
    throw new ScimError(400, "displayName is required", "invalidValue");
  check(displayName.length <= 1024, "displayName must be at most 1024 characters");
  const raw = get(body, "members") ?? [];
  if (!Array.isArray(raw)) throw new ScimError(400, "members must be a list", "invalidValue");
  const ids = new Set<string>();
  for (const m of raw) {
    const value = typeof m === "object" && m !== null ? get(m as Json, "value") : undefined;
    if (typeof value !== "string" || value === "")
      throw new ScimError(400, "each member needs a value (a User's id)", "invalidValue");
    const type = get(m as Json, "type");
    if (typeof type === "string" && type.toLowerCase() === "group")
      throw new ScimError(400, "groups do not nest: members must be Users", "invalidValue");
    ids.add(value);
  }
  if (ids.size > MAX_GROUP_MEMBERS)
    throw new ScimError(
      400,
      `a group has at most ${String(MAX_GROUP_MEMBERS)} members`,
      "invalidValue",
    );
  return { displayName, externalId: optionalString(body, "externalId"), memberIds: [...ids] };
}

/** The Group spec from its fields, members resolved to userNames; the description is kept. */
export function groupSpec(fields: GroupFields, userNames: string[], keep?: GroupSpec): GroupSpec {
  return {
    displayName: fields.displayName,
    ...(keep?.description !== undefined ? { description: keep.description } : {}),
    members: userNames,
  };
}

/**
 * A DNS-1123 object name for a new object, from what SCIM calls it (userName, displayName),
 * readable so that AccountAssignments can name it; `suffix` keeps it unique when taken.
 */
export function objectNameFor(name: string, suffix?: string): string {
  const base =
    name
      .toLowerCase()
      .replace(/[^a-z0-9.-]+/g, "-")
      .replace(/^[^a-z0-9]+/, "")
      .slice(0, 200)
      .replace(/[^a-z0-9]+$/, "") || "scim";
  return suffix ? `${base}-${suffix}` : base;
}
