import { createHash } from "node:crypto";
import type { Group, User } from "../api/v1alpha1/index.ts";
import { NAME_PATTERN } from "../api/v1alpha1/schema.ts";
import { MANAGED_BY_IDENTITY_SOURCE, MANAGED_BY_SOURCE_LABEL } from "../api/v1alpha1/labels.ts";
import type { DirectoryIndex } from "./directory-index.ts";
import { isValidUser } from "./directory.ts";

/**
 * Who an upstream identity provider (OIDC or SAML) says signed in, in the same words for both:
 * what the protocol code has checked (signature, audience, expiry) and extracted.
 */
export interface UpstreamIdentity {
  /** The upstream's stable id of the user (OIDC `sub`, SAML NameID); for logs and audit. */
  subject: string;
  /** The claim or attribute configured as the userName; undefined when the upstream sent none. */
  userName: string | undefined;
  email: string | undefined;
  displayName?: string | undefined;
  givenName?: string | undefined;
  familyName?: string | undefined;
  /**
   * The upstream's groups of the user; undefined when the upstream said nothing about groups
   * (no claim at all, or an overage marker), which changes no membership.
   */
  groups: readonly string[] | undefined;
  /** Whether the upstream reports a multi-factor sign-in (OIDC amr, SAML authn context). */
  mfa: boolean;
  /** When the user authenticated upstream (ms since the epoch), if it says. */
  authTime?: number | undefined;
  /** When the upstream's statement stops being valid (id_token exp, SAML SessionNotOnOrAfter). */
  expiresAt: number;
}

/** The parts of `spec.identitySource` that decide who may sign in and what they join. */
export interface UpstreamPolicy {
  jitProvisioning: boolean;
  groupMapping?:
    | { sameName: boolean; mappings?: readonly { upstream: string; group: string }[] | undefined }
    | undefined;
}

/** What the decision reads: the directory index and the cached Users and Groups. */
export interface DirectoryView {
  index: DirectoryIndex;
  user(name: string): User | undefined;
  group(name: string): Group | undefined;
}

export interface GroupChanges {
  /** Groups owned by the identity source the user joins; `create` when the Group is missing. */
  join: { group: string; create: boolean; displayName: string }[];
  /** Groups owned by the identity source the user is in and no longer has upstream. */
  leave: string[];
  /** Mapped Groups left alone because something else (GitOps, SCIM) owns them. */
  skipped: string[];
}

export type RefusalReason =
  "no-user-name" | "unknown-user" | "inactive-user" | "duplicate-user" | "no-email" | "email-taken";

export type UpstreamDecision =
  | { outcome: "refused"; reason: RefusalReason; message: string }
  | {
      outcome: "sign-in";
      /** The User's own spelling of the userName (sessions and credential records use it). */
      userName: string;
      /** A User to create first (just-in-time provisioning), owned by the identity source. */
      create?: User;
      groups: GroupChanges;
    };

const USER_NAME = /^\S{1,128}$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const OBJECT_NAME = new RegExp(NAME_PATTERN);

const refuse = (reason: RefusalReason, message: string): UpstreamDecision => ({
  outcome: "refused",
  reason,
  message,
});

export function ownedByIdentitySource(object: {
  metadata: { labels?: Record<string, string> | undefined };
}): boolean {
  return object.metadata.labels?.[MANAGED_BY_SOURCE_LABEL] === MANAGED_BY_IDENTITY_SOURCE;
}

/**
 * The object name of a User made for an upstream userName: a readable DNS-1123 form plus a
 * hash of the userName ignoring case, so two replicas creating the same user pick one name (the
 * second gets AlreadyExists) and two userNames that read alike never share an object.
 */
export function identitySourceUserObjectName(userName: string): string {
  const readable = userName
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 200)
    .replace(/[^a-z0-9]+$/, "");
  const hash = createHash("sha256").update(userName.toLowerCase()).digest("hex").slice(0, 10);
  return readable ? `${readable}-${hash}` : `user-${hash}`;
}

/** The Groups the user's upstream groups map to (explicit mappings first, then same name). */
export function mappedGroups(
  upstreamGroups: readonly string[],
  mapping: NonNullable<UpstreamPolicy["groupMapping"]>,
): Map<string, string> {
  const explicit = new Map((mapping.mappings ?? []).map((m) => [m.upstream, m.group]));
  const targets = new Map<string, string>(); // Group object name -> the upstream name
  for (const upstream of upstreamGroups) {
    const group =
      explicit.get(upstream) ??
      (mapping.sameName && upstream.length <= 253 && OBJECT_NAME.test(upstream)
        ? upstream
        : undefined);
    if (group && !targets.has(group)) targets.set(group, upstream);
  }
  return targets;
}

function groupChanges(
  userName: string,
  identity: UpstreamIdentity,
  policy: UpstreamPolicy,
  directory: DirectoryView,
): GroupChanges {
  const none: GroupChanges = { join: [], leave: [], skipped: [] };
  if (!policy.groupMapping || identity.groups === undefined) return none;
  const targets = mappedGroups(identity.groups, policy.groupMapping);
  const memberOf = directory.index.groupsWithMember(userName);
  const changes: GroupChanges = { join: [], leave: [], skipped: [] };
  for (const [name, upstream] of [...targets].sort(([a], [b]) => a.localeCompare(b))) {
    const group = directory.group(name);
    if (!group) changes.join.push({ group: name, create: true, displayName: upstream });
    else if (!ownedByIdentitySource(group)) {
      if (!memberOf.has(name)) changes.skipped.push(name);
    } else if (!memberOf.has(name))
      changes.join.push({ group: name, create: false, displayName: upstream });
  }
  for (const name of [...memberOf].sort()) {
    const group = directory.group(name);
    if (group && ownedByIdentitySource(group) && !targets.has(name)) changes.leave.push(name);
  }
  return changes;
}

/**
 * Decides what an upstream sign-in means here: the User it is (by userName, ignoring case),
 * a User to create (just-in-time provisioning), or a refusal with a reason the user can read;
 * and the membership changes of the Groups the identity source owns. Pure.
 */
export function decideUpstreamSignIn(
  identity: UpstreamIdentity,
  policy: UpstreamPolicy,
  directory: DirectoryView,
): UpstreamDecision {
  const typed = identity.userName?.trim();
  if (!typed || !USER_NAME.test(typed))
    return refuse(
      "no-user-name",
      "Your identity provider did not send a user name this portal can use.",
    );
  const candidates = directory.index.usersWithUserName(typed);
  if (candidates.size > 1)
    return refuse(
      "duplicate-user",
      "More than one user here has your user name. Ask an administrator to resolve it.",
    );
  const existingName = [...candidates][0];
  const existing = existingName === undefined ? undefined : directory.user(existingName);
  if (existing) {
    if (!existing.spec.active)
      return refuse("inactive-user", "Your user is deactivated here. Ask an administrator.");
    if (!isValidUser(existing, directory.index))
      return refuse(
        "duplicate-user",
        "Your email address is used by another user here. Ask an administrator to resolve it.",
      );
    const userName = existing.spec.userName;
    return {
      outcome: "sign-in",
      userName,
      groups: groupChanges(userName, identity, policy, directory),
    };
  }
  if (!policy.jitProvisioning)
    return refuse(
      "unknown-user",
      "You signed in upstream, but there is no user with your user name here. Ask an administrator for access.",
    );
  const email = identity.email?.trim();
  if (!email || !EMAIL.test(email) || email.length > 254)
    return refuse(
      "no-email",
      "Your identity provider did not send an email address, which a new user here needs.",
    );
  if (directory.index.usersWithEmail(email).size > 0)
    return refuse(
      "email-taken",
      "Your email address already belongs to another user here. Ask an administrator.",
    );
  const displayName = identity.displayName?.trim().slice(0, 256);
  const givenName = identity.givenName?.trim().slice(0, 256);
  const familyName = identity.familyName?.trim().slice(0, 256);
  const create: User = {
    apiVersion: "identitycenter.dev/v1alpha1",
    kind: "User",
    metadata: {
      name: identitySourceUserObjectName(typed),
      labels: { [MANAGED_BY_SOURCE_LABEL]: MANAGED_BY_IDENTITY_SOURCE },
    },
    spec: {
      userName: typed,
      email,
      active: true,
      ...(displayName ? { displayName } : {}),
      ...(givenName || familyName
        ? {
            name: {
              ...(givenName ? { givenName } : {}),
              ...(familyName ? { familyName } : {}),
            },
          }
        : {}),
    },
  };
  return {
    outcome: "sign-in",
    userName: typed,
    create,
    groups: groupChanges(typed, identity, policy, directory),
  };
}

/** When a federated session must end: the portal's own limit or the upstream's, whichever is first. */
export function federatedSessionEnd(identity: UpstreamIdentity, now: number, absoluteMs: number) {
  return Math.min(now + absoluteMs, identity.expiresAt);
}

/**
 * Whether an OIDC `amr` (RFC 8176) says the user proved more than one factor: `mfa` itself, or
 * a method that is a second factor (one-time code, hardware key, smart card, biometrics,
 * proof of possession). A password (`pwd`) or a software key alone is one factor.
 */
export function amrIsMultiFactor(amr: unknown): boolean {
  if (!Array.isArray(amr)) return false;
  const strong = new Set([
    "mfa",
    "otp",
    "hwk",
    "sc",
    "fpt",
    "face",
    "iris",
    "retina",
    "vbm",
    "pop",
  ]);
  return amr.some((m) => typeof m === "string" && strong.has(m));
}
