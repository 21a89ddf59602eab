// Builders for test objects, cert-manager style: gen.user("alice", withEmail("a@x")).
import type { Group, User } from "../api/v1alpha1/index.ts";

type Mod<T> = (obj: T) => void;

export function user(name: string, ...mods: Mod<User>[]): User {
  const obj: User = {
    apiVersion: "identitycenter.dev/v1alpha1",
    kind: "User",
    metadata: { name, generation: 1, uid: `uid-${name}` },
    spec: { userName: name, email: `${name}@example.com`, active: true },
  };
  for (const mod of mods) mod(obj);
  return obj;
}

export function group(name: string, members: string[], ...mods: Mod<Group>[]): Group {
  const obj: Group = {
    apiVersion: "identitycenter.dev/v1alpha1",
    kind: "Group",
    metadata: { name, generation: 1, uid: `uid-${name}` },
    spec: { members },
  };
  for (const mod of mods) mod(obj);
  return obj;
}

export const withUserName =
  (userName: string): Mod<User> =>
  (u) => {
    u.spec.userName = userName;
  };
export const withEmail =
  (email: string): Mod<User> =>
  (u) => {
    u.spec.email = email;
  };
export const inactive: Mod<User> = (u) => {
  u.spec.active = false;
};

import type { Account, AccountAssignment, PermissionSet } from "../api/v1alpha1/index.ts";

export function permissionSet(name: string, ...mods: Mod<PermissionSet>[]): PermissionSet {
  const obj: PermissionSet = {
    apiVersion: "identitycenter.dev/v1alpha1",
    kind: "PermissionSet",
    metadata: { name, generation: 1 },
    spec: { sessionDuration: "PT1H", managedPolicies: ["arn:aws:iam::aws:policy/ReadOnlyAccess"] },
  };
  for (const mod of mods) mod(obj);
  return obj;
}

export function account(
  name: string,
  accountId: string,
  labels: Record<string, string> = {},
): Account {
  return {
    apiVersion: "identitycenter.dev/v1alpha1",
    kind: "Account",
    metadata: { name, generation: 1, labels },
    spec: { accountId, deletionPolicy: "Delete" },
  };
}

export function assignment(
  name: string,
  permissionSetName: string,
  target: Pick<AccountAssignment["spec"], "accounts" | "accountSelector">,
): AccountAssignment {
  return {
    apiVersion: "identitycenter.dev/v1alpha1",
    kind: "AccountAssignment",
    metadata: { name, generation: 1 },
    spec: {
      principal: { kind: "Group", name: "admins" },
      permissionSet: permissionSetName,
      ...target,
    },
  };
}
