import type {
  Account,
  AccountAssignment,
  Group,
  PermissionSet,
  User,
} from "../api/v1alpha1/index.ts";
import { userNameKey } from "../identity/directory-index.ts";
import { assignmentTargets, permissionSetName } from "../plan/desired-roles.ts";

export interface RoleAccess {
  permissionSet: string;
  name: string;
  description: string | undefined;
  roleArn: string;
  samlProviderArn: string;
  sessionDuration: string;
  relayState: string | undefined;
}

export interface AccountAccess {
  account: string;
  accountId: string;
  displayName: string;
  email?: string;
  roles: RoleAccess[];
}

/**
 * Whether an assignment (of accounts or of an application) names the user or one of their
 * groups; one being deleted no longer counts.
 */
export function assignedTo(user: User, groups: readonly Group[]) {
  const groupNames = new Set(groups.map((g) => g.metadata.name));
  return (a: {
    metadata: { deletionTimestamp?: Date };
    spec: { principal: { kind: "User" | "Group"; name: string } };
  }): boolean =>
    !a.metadata.deletionTimestamp &&
    ((a.spec.principal.kind === "User" &&
      userNameKey(a.spec.principal.name) === userNameKey(user.spec.userName)) ||
      (a.spec.principal.kind === "Group" && groupNames.has(a.spec.principal.name)));
}

export interface AccessInput {
  user: User;
  /** Groups the user is a member of (already resolved, valid user only). */
  groups: readonly Group[];
  assignments: readonly AccountAssignment[];
  accounts: readonly Account[];
  permissionSets: readonly PermissionSet[];
}

/**
 * What a signed-in user may open: the user's own assignments plus those of their groups, only
 * where the Account reports the role Provisioned. Sorted by account display name, then
 * permission set name. Pure: the portal calls it on every request with its caches, so access
 * follows membership changes at once.
 */
export function accessibleAccounts(input: AccessInput): AccountAccess[] {
  const mine = input.assignments.filter(assignedTo(input.user, input.groups));
  const permissionSets = new Map(input.permissionSets.map((p) => [p.metadata.name, p]));
  const result: AccountAccess[] = [];
  for (const account of input.accounts) {
    const samlProviderArn = account.status?.samlProviderArn;
    if (!samlProviderArn || account.metadata.deletionTimestamp) continue;
    const wanted = new Set(
      mine.filter((a) => assignmentTargets(a, account)).map((a) => a.spec.permissionSet),
    );
    const roles: RoleAccess[] = [];
    for (const name of wanted) {
      const ps = permissionSets.get(name);
      const row = account.status?.roles?.find((r) => r.permissionSet === name);
      if (!ps || row?.state !== "Provisioned" || !row.roleArn) continue;
      roles.push({
        permissionSet: name,
        name: permissionSetName(ps),
        description: ps.spec.description,
        roleArn: row.roleArn,
        samlProviderArn,
        sessionDuration: ps.spec.sessionDuration,
        relayState: ps.spec.relayState,
      });
    }
    if (roles.length === 0) continue;
    roles.sort((a, b) => a.name.localeCompare(b.name));
    result.push({
      account: account.metadata.name,
      accountId: account.spec.accountId,
      displayName: account.spec.displayName ?? account.metadata.name,
      ...(account.spec.email ? { email: account.spec.email } : {}),
      roles,
    });
  }
  return result.sort(
    (a, b) => a.displayName.localeCompare(b.displayName) || a.accountId.localeCompare(b.accountId),
  );
}

/** The one role a user asks for, if they may use it; the portal answers 403 otherwise. */
export function findRole(
  access: readonly AccountAccess[],
  account: string,
  permissionSet: string,
): RoleAccess | undefined {
  return access
    .find((a) => a.account === account)
    ?.roles.find((r) => r.permissionSet === permissionSet);
}
