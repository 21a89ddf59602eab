import {
  INLINE_POLICY_MAX_BYTES,
  INLINE_POLICY_MAX_CHARS,
  type Account,
  type AccountAssignment,
  type PermissionSet,
} from "../api/v1alpha1/index.ts";
import { matchesSelector } from "./label-selector.ts";
import {
  iamArn,
  isoDurationSeconds,
  MANAGED_BY,
  ROLE_PATH,
  roleName,
  INSTANCE_KEY,
  TAG_MANAGED_BY,
  TAG_PERMISSION_SET,
} from "./naming.ts";
import {
  inlinePolicyProblem,
  malformedPolicyProblem,
  type PolicyDocument,
} from "./policy-document.ts";

/** The IAM role one (permission set, account) pair needs. */
export interface DesiredRole {
  roleName: string;
  path: string;
  permissionSet: string;
  description: string;
  maxSessionDuration: number;
  trustPolicy: PolicyDocument;
  /** AWS managed policies and the account's customer managed ones, as ARNs, sorted. */
  managedPolicyArns: string[];
  /** Customer managed policy ARNs among managedPolicyArns, which must exist in the account. */
  customerManagedPolicyArns: string[];
  inlinePolicy: PolicyDocument | undefined;
  permissionsBoundaryArn: string | undefined;
  tags: Record<string, string>;
}

export interface InstanceSettings {
  name: string;
  partition: string;
  signInUrl: string;
}

/** Why a pair cannot be provisioned as asked: a CamelCase reason and a message for people. */
export interface PairProblem {
  reason: string;
  message: string;
}

/** What the account last reported about one permission set (its status row). */
export interface PreviousPair {
  permissionSet: string;
  reason?: string | undefined;
  message?: string | undefined;
  /** The assignments that granted the role then. Undefined in rows written before they were kept. */
  assignments?: readonly string[] | undefined;
  permissionSetGeneration?: number | undefined;
}

export interface AccountPlanInput {
  instance: InstanceSettings;
  account: Account;
  samlProviderArn: string;
  permissionSets: readonly PermissionSet[];
  assignments: readonly AccountAssignment[];
  /** Every Account object: assignment references resolve against them. */
  accounts: readonly Account[];
  /** The account's previous status rows: which assignments granted which role. */
  previous: readonly PreviousPair[];
  /** The permission sets (tag values) of the roles the operator owns in the account now. */
  ownedPermissionSets: readonly string[];
}

/**
 * The plan's decision for one (account, permission set) pair:
 * - desired: `role` is what IAM must hold;
 * - frozen: `problem` says why, and whatever exists for the pair is kept exactly as it is
 *   (`holds`): nothing is created, changed or deleted;
 * - failed: `problem` says why and nothing is held (the permission set does not exist, so a
 *   role left from it is a deliberate removal).
 */
export interface PairDecision {
  permissionSet: string;
  /** The assignments that grant the pair, or (frozen by an assignment) that hold it. */
  assignments: string[];
  role?: DesiredRole;
  problem?: PairProblem & { permissionSetGeneration?: number };
  holds: boolean;
}

export const IAM_REFUSED = "IamRefused";

/** Whether an assignment targets an account, by object name, account id or label selector. */
export function assignmentTargets(assignment: AccountAssignment, account: Account): boolean {
  const refs = assignment.spec.accounts ?? [];
  if (refs.includes(account.metadata.name) || refs.includes(account.spec.accountId)) return true;
  const selector = assignment.spec.accountSelector;
  return selector !== undefined && matchesSelector(selector, account.metadata.labels);
}

export function permissionSetName(ps: PermissionSet): string {
  return ps.spec.name ?? ps.metadata.name;
}

/** Why a permission set cannot be provisioned anywhere (checked before any AWS call). */
export function permissionSetProblem(ps: PermissionSet): PairProblem | undefined {
  if (!ps.spec.inlinePolicy) return undefined;
  const problem =
    inlinePolicyProblem(ps.spec.inlinePolicy, INLINE_POLICY_MAX_BYTES, INLINE_POLICY_MAX_CHARS) ??
    malformedPolicyProblem(ps.spec.inlinePolicy);
  return problem === undefined ? undefined : { reason: "InvalidPolicy", message: problem };
}

/**
 * Why an assignment cannot be resolved: its permission set or one of the accounts it names
 * does not exist. Such an assignment grants nothing new and takes nothing away: the roles it
 * granted before stay as they are until it is fixed or deleted.
 */
export function assignmentProblem(
  assignment: AccountAssignment,
  objects: { permissionSets: readonly PermissionSet[]; accounts: readonly Account[] },
): PairProblem | undefined {
  const ps = objects.permissionSets.find((p) => p.metadata.name === assignment.spec.permissionSet);
  if (!ps || ps.metadata.deletionTimestamp) {
    return {
      reason: "PermissionSetNotFound",
      message: `AccountAssignment "${assignment.metadata.name}": PermissionSet "${assignment.spec.permissionSet}" does not exist`,
    };
  }
  const unknown = unresolvedAccounts(assignment, objects.accounts);
  if (unknown.length > 0) {
    return {
      reason: "AccountNotFound",
      message: `AccountAssignment "${assignment.metadata.name}": no Account for ${unknown.join(", ")}`,
    };
  }
  return undefined;
}

/** The account references (names or ids) of an assignment that match no Account object. */
export function unresolvedAccounts(
  assignment: AccountAssignment,
  accounts: readonly Account[],
): string[] {
  return (assignment.spec.accounts ?? []).filter(
    (ref) =>
      !accounts.some(
        (a) =>
          !a.metadata.deletionTimestamp && (a.metadata.name === ref || a.spec.accountId === ref),
      ),
  );
}

/**
 * Why an Account object must not be acted on: another Account object claims the same AWS
 * account. The oldest claim (then the first name) keeps working; the others are frozen, since
 * two objects with different labels would otherwise undo each other's roles.
 */
export function duplicateAccountProblem(
  account: Account,
  accounts: readonly Account[],
): PairProblem | undefined {
  // Stored objects carry the time as a string, typed objects as a Date: compare instants.
  const created = (a: Account) => new Date(a.metadata.creationTimestamp ?? 0).getTime();
  const claims = accounts
    .filter((a) => a.spec.accountId === account.spec.accountId && !a.metadata.deletionTimestamp)
    .sort((a, b) => created(a) - created(b) || a.metadata.name.localeCompare(b.metadata.name));
  const first = claims[0];
  if (!first || first.metadata.name === account.metadata.name) return undefined;
  return {
    reason: "DuplicateAccount",
    message: `Account "${first.metadata.name}" already manages AWS account ${account.spec.accountId}; this object changes nothing there`,
  };
}

export function trustPolicy(samlProviderArn: string, signInUrl: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Federated: samlProviderArn },
        Action: ["sts:AssumeRoleWithSAML", "sts:TagSession"],
        Condition: { StringEquals: { "SAML:aud": signInUrl } },
      },
    ],
  };
}

function desiredRole(input: AccountPlanInput, ps: PermissionSet): DesiredRole {
  const { instance, account } = input;
  const name = permissionSetName(ps);
  const customer = (ps.spec.customerManagedPolicies ?? []).map((p) =>
    iamArn(instance.partition, account.spec.accountId, `policy${p.path}${p.name}`),
  );
  const boundary = ps.spec.permissionsBoundary;
  const boundaryArn = boundary?.managedPolicyArn
    ? boundary.managedPolicyArn
    : boundary?.customerManagedPolicy
      ? iamArn(
          instance.partition,
          account.spec.accountId,
          `policy${boundary.customerManagedPolicy.path}${boundary.customerManagedPolicy.name}`,
        )
      : undefined;
  return {
    roleName: roleName(instance.name, ps.metadata.name, name),
    path: ROLE_PATH,
    permissionSet: ps.metadata.name,
    description: (ps.spec.description ?? `Permission set ${name}`).slice(0, 1000),
    maxSessionDuration: isoDurationSeconds(ps.spec.sessionDuration),
    trustPolicy: trustPolicy(input.samlProviderArn, instance.signInUrl),
    managedPolicyArns: [...new Set([...(ps.spec.managedPolicies ?? []), ...customer])].sort(),
    customerManagedPolicyArns: [
      ...customer,
      ...(boundary?.customerManagedPolicy && boundaryArn ? [boundaryArn] : []),
    ].sort(),
    inlinePolicy: ps.spec.inlinePolicy,
    permissionsBoundaryArn: boundaryArn,
    tags: {
      ...(ps.spec.tags ?? {}),
      [TAG_MANAGED_BY]: MANAGED_BY,
      [INSTANCE_KEY]: instance.name,
      [TAG_PERMISSION_SET]: ps.metadata.name,
    },
  };
}

/**
 * Every pair of the account and what to do about it. Pure. A pair is desired when a valid
 * assignment grants it and its permission set is valid; frozen (held exactly as it is) when its
 * permission set has a problem, when IAM refused this generation of it before, or when an
 * assignment that granted it now has a problem; and absent (so its role is removed) only after a
 * deliberate removal: the assignment was deleted, the permission set was deleted, or the account
 * is no longer targeted by a valid assignment.
 */
export function planAccountRoles(input: AccountPlanInput): {
  roles: DesiredRole[];
  pairs: PairDecision[];
} {
  const { account } = input;
  const live = input.assignments.filter((a) => !a.metadata.deletionTimestamp);
  const byName = new Map(input.permissionSets.map((ps) => [ps.metadata.name, ps]));
  const granted = new Map<string, string[]>();
  const invalid = new Map<string, { assignment: AccountAssignment; problem: PairProblem }>();
  for (const a of live) {
    const problem = assignmentProblem(a, input);
    if (problem) invalid.set(a.metadata.name, { assignment: a, problem });
    else if (assignmentTargets(a, account)) {
      granted.set(a.spec.permissionSet, [
        ...(granted.get(a.spec.permissionSet) ?? []),
        a.metadata.name,
      ]);
    }
  }
  const previous = new Map(input.previous.map((p) => [p.permissionSet, p]));
  const pairs = new Map<string, PairDecision>();

  for (const [name, assignments] of granted) {
    const ps = byName.get(name);
    if (!ps || ps.metadata.deletionTimestamp) continue; // the assignment would be invalid
    const before = previous.get(name);
    const problem =
      permissionSetProblem(ps) ??
      (before?.reason === IAM_REFUSED &&
      before.permissionSetGeneration !== undefined &&
      before.permissionSetGeneration === ps.metadata.generation
        ? {
            reason: IAM_REFUSED,
            message:
              before.message ??
              `IAM refused generation ${String(ps.metadata.generation)} of the permission set; change it to try again`,
            permissionSetGeneration: before.permissionSetGeneration,
          }
        : undefined);
    assignments.sort();
    pairs.set(
      name,
      problem
        ? { permissionSet: name, assignments, problem, holds: true }
        : { permissionSet: name, assignments, role: desiredRole(input, ps), holds: false },
    );
  }

  // Pairs no valid assignment grants: held while an assignment that granted them is broken.
  const hold = (name: string, holders: string[]) => {
    const ps = byName.get(name);
    const first = holders[0] === undefined ? undefined : invalid.get(holders[0]);
    if (pairs.has(name) || !first) return;
    const exists = ps !== undefined && !ps.metadata.deletionTimestamp;
    pairs.set(name, {
      permissionSet: name,
      assignments: holders,
      problem: {
        reason: first.problem.reason,
        message: exists
          ? `${first.problem.message}; the role is kept as it is until the assignment is fixed or deleted`
          : first.problem.message,
      },
      // A permission set that no longer exists was deleted: its role goes.
      holds: exists,
    });
  };
  for (const row of input.previous) {
    if (row.assignments === undefined) continue;
    hold(
      row.permissionSet,
      row.assignments.filter((n) => invalid.has(n)),
    );
  }
  // Roles with no record of who granted them (status lost, or written by an older version):
  // held while any broken assignment might target this account.
  const mightTarget = [...invalid.values()]
    .filter(
      ({ assignment }) =>
        assignmentTargets(assignment, account) ||
        unresolvedAccounts(assignment, input.accounts).length > 0,
    )
    .map(({ assignment }) => assignment.metadata.name)
    .sort();
  for (const name of input.ownedPermissionSets) {
    if (previous.get(name)?.assignments === undefined) hold(name, mightTarget);
  }
  // A broken assignment aimed at this account is reported here too, though it holds nothing new.
  for (const { assignment, problem } of invalid.values()) {
    const name = assignment.spec.permissionSet;
    if (pairs.has(name) || !assignmentTargets(assignment, account)) continue;
    const ps = byName.get(name);
    pairs.set(name, {
      permissionSet: name,
      assignments: [assignment.metadata.name],
      problem,
      holds: ps !== undefined && !ps.metadata.deletionTimestamp,
    });
  }

  const sorted = [...pairs.values()].sort((a, b) => a.permissionSet.localeCompare(b.permissionSet));
  return {
    roles: sorted.flatMap((p) => (p.role ? [p.role] : [])),
    pairs: sorted,
  };
}
