import type { ConditionInput, Group, User } from "../api/v1alpha1/index.ts";
import type { DirectoryIndex } from "./directory-index.ts";

/**
 * Whether a user may be used downstream. A user whose userName or email clashes with another
 * is treated as absent everywhere: no group membership, no access, no sign-in.
 */
export function userValidity(user: User, index: DirectoryIndex): ConditionInput {
  const clashes = index.clashesOf(user);
  const parts: string[] = [];
  if (clashes.userName.length > 0) {
    parts.push(
      `userName "${user.spec.userName}" is also used by User ${clashes.userName.map((n) => `"${n}"`).join(", ")}`,
    );
  }
  if (clashes.email.length > 0) {
    parts.push(
      `email "${user.spec.email}" is also used by User ${clashes.email.map((n) => `"${n}"`).join(", ")}`,
    );
  }
  if (parts.length > 0) {
    parts.push(`${parts.pop() ?? ""} (userNames and emails are compared ignoring case)`);
    return {
      type: "Ready",
      status: "False",
      reason: "Duplicate",
      message: `${parts.join("; ")}; this user gets no access until the clash is resolved`,
    };
  }
  if (!user.spec.active) {
    return {
      type: "Ready",
      status: "True",
      reason: "Inactive",
      message: "the user is valid but inactive and cannot sign in",
    };
  }
  return {
    type: "Ready",
    status: "True",
    reason: "Valid",
    message: "the user is valid and unique",
  };
}

/** True when the user is unique (not clashing); inactive users are still valid members. */
export function isValidUser(user: User, index: DirectoryIndex): boolean {
  const clashes = index.clashesOf(user);
  return clashes.userName.length === 0 && clashes.email.length === 0;
}

export interface GroupResolution {
  members: number;
  unknownMembers: string[];
  condition: ConditionInput;
}

/** Resolves a group's member userNames to valid users. */
export function resolveGroup(
  group: Group,
  index: DirectoryIndex,
  isValid: (userObjectName: string) => boolean,
): GroupResolution {
  const unknown: string[] = [];
  let members = 0;
  for (const userName of group.spec.members) {
    const user = index.validUserFor(userName);
    if (user !== undefined && isValid(user)) members++;
    else unknown.push(userName);
  }
  unknown.sort();
  const condition: ConditionInput =
    unknown.length > 0
      ? {
          type: "Ready",
          status: "False",
          reason: "UnknownMembers",
          message: `no valid User for ${unknown.length} member(s): ${unknown.slice(0, 20).join(", ")}${unknown.length > 20 ? ", ..." : ""}`,
        }
      : {
          type: "Ready",
          status: "True",
          reason: "Resolved",
          message: `all ${members} member(s) resolve to users`,
        };
  return { members, unknownMembers: unknown, condition };
}

/** The caches a principal is looked up in (the operator's stores satisfy it). */
export interface PrincipalLookup {
  groups: { informer: { get(name: string): Group | undefined } };
  users: { informer: { get(name: string): User | undefined } };
  directory: DirectoryIndex;
}

/** Why a principal cannot receive access, if it cannot. */
export function principalProblem(
  ctx: PrincipalLookup,
  principal: { kind: "User" | "Group"; name: string },
): string | undefined {
  const { kind, name } = principal;
  if (kind === "Group")
    return ctx.groups.informer.get(name) ? undefined : `Group "${name}" does not exist`;
  const userObject = ctx.directory.validUserFor(name);
  const user = userObject === undefined ? undefined : ctx.users.informer.get(userObject);
  if (!user) return `no valid User with userName "${name}"`;
  return isValidUser(user, ctx.directory) ? undefined : `User "${name}" clashes with another user`;
}
