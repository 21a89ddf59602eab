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
    const wanted = new Set(
      mine.filter((a) => assignmentTargets(a, account)).map((a) => a.spec.permissionSet),
    );
    const row = accountRow(account, wanted, (name) => permissionSets.get(name));
    if (row) result.push(row);
  }
  return sortAccess(result);
}

/** The roles of `wanted` that the account reports Provisioned, or undefined when none is. */
function accountRow(
  account: Account,
  wanted: Iterable<string>,
  permissionSet: (name: string) => PermissionSet | undefined,
): AccountAccess | undefined {
  const samlProviderArn = account.status?.samlProviderArn;
  if (!samlProviderArn || account.metadata.deletionTimestamp) return undefined;
  const roles: RoleAccess[] = [];
  for (const name of wanted) {
    const ps = permissionSet(name);
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
  if (roles.length === 0) return undefined;
  roles.sort((a, b) => a.name.localeCompare(b.name));
  return {
    account: account.metadata.name,
    accountId: account.spec.accountId,
    displayName: account.spec.displayName ?? account.metadata.name,
    ...(account.spec.email ? { email: account.spec.email } : {}),
    roles,
  };
}

const sortAccess = (rows: AccountAccess[]): AccountAccess[] =>
  rows.sort(
    (a, b) => a.displayName.localeCompare(b.displayName) || a.accountId.localeCompare(b.accountId),
  );

/**
 * The portal's caches seen through indexes: what a user's access is computed from without
 * scanning every assignment and account of the organisation.
 */
export interface AccessSource {
  /** Assignments naming the user (by userName) or one of the groups: candidates only. */
  assignmentsOf(userName: string, groups: readonly string[]): AccountAssignment[];
  account(name: string): Account | undefined;
  /** Account objects with this AWS account id. */
  accountsWithId(accountId: string): Account[];
  /** Every account, for assignments that select accounts by label. */
  accounts(): Iterable<Account>;
  permissionSet(name: string): PermissionSet | undefined;
}

/** The user's assignments that count (see assignedTo), found through the index. */
function assignmentsOf(
  source: AccessSource,
  user: User,
  groups: readonly Group[],
): AccountAssignment[] {
  const candidates = source.assignmentsOf(
    user.spec.userName,
    groups.map((g) => g.metadata.name),
  );
  return candidates.filter(assignedTo(user, groups));
}

/** The accounts an assignment targets: named ones by name or id, and selected ones. */
function targetsOf(source: AccessSource, assignment: AccountAssignment): Account[] {
  const found = new Map<string, Account>();
  for (const ref of assignment.spec.accounts ?? []) {
    const named = source.account(ref);
    if (named) found.set(named.metadata.name, named);
    for (const a of source.accountsWithId(ref)) found.set(a.metadata.name, a);
  }
  if (assignment.spec.accountSelector) {
    for (const a of source.accounts())
      if (assignmentTargets(assignment, a)) found.set(a.metadata.name, a);
  }
  return [...found.values()];
}

/**
 * The same answer as accessibleAccounts, from the indexes: the user's assignments first, then
 * only the accounts those target. Costs O(the user's assignments x their targets), whatever
 * the size of the organisation (an assignment by label selector still looks at every account).
 */
export function indexedAccessibleAccounts(
  source: AccessSource,
  user: User,
  groups: readonly Group[],
): AccountAccess[] {
  const wanted = new Map<string, { account: Account; permissionSets: Set<string> }>();
  for (const assignment of assignmentsOf(source, user, groups)) {
    for (const account of targetsOf(source, assignment)) {
      let entry = wanted.get(account.metadata.name);
      if (!entry) {
        entry = { account, permissionSets: new Set() };
        wanted.set(account.metadata.name, entry);
      }
      entry.permissionSets.add(assignment.spec.permissionSet);
    }
  }
  const result: AccountAccess[] = [];
  for (const { account, permissionSets } of wanted.values()) {
    const row = accountRow(account, permissionSets, (n) => source.permissionSet(n));
    if (row) result.push(row);
  }
  return sortAccess(result);
}

/**
 * The one role a user asks for (the console and CLI sign-in check), if they may use it: the
 * same answer as findRole on the whole access list, looking only at that account.
 */
export function authorizedRole(
  source: AccessSource,
  who: { user: User; groups: readonly Group[] },
  wanted: { account: string; permissionSet: string },
): RoleAccess | undefined {
  const { user, groups } = who;
  const { permissionSet } = wanted;
  const account = source.account(wanted.account);
  if (!account) return undefined;
  const granted = assignmentsOf(source, user, groups).some(
    (a) => a.spec.permissionSet === permissionSet && assignmentTargets(a, account),
  );
  if (!granted) return undefined;
  return accountRow(account, [permissionSet], (n) => source.permissionSet(n))?.roles[0];
}

/**
 * The same answer as indexedAccessibleAccounts for the accounts with one AWS account id (what
 * the SSO API's ListAccountRoles and GetRoleCredentials name), looking only at those accounts:
 * a walk of every account calls it once per account, so it costs O(the user's assignments).
 */
export function accessibleAccountsWithId(
  source: AccessSource,
  who: { user: User; groups: readonly Group[] },
  accountId: string,
): AccountAccess[] {
  const accounts = source.accountsWithId(accountId);
  if (accounts.length === 0) return [];
  const mine = assignmentsOf(source, who.user, who.groups);
  const result: AccountAccess[] = [];
  for (const account of accounts) {
    const wanted = new Set(
      mine.filter((a) => assignmentTargets(a, account)).map((a) => a.spec.permissionSet),
    );
    const row = accountRow(account, wanted, (n) => source.permissionSet(n));
    if (row) result.push(row);
  }
  return sortAccess(result);
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
