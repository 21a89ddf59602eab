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
import { inlinePolicyProblem, type PolicyDocument } from "./policy-document.ts";

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

export interface AccountPlanInput {
  instance: InstanceSettings;
  account: Account;
  samlProviderArn: string;
  permissionSets: readonly PermissionSet[];
  assignments: readonly AccountAssignment[];
}

export interface PairFailure {
  permissionSet: string;
  message: string;
}

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
export function permissionSetProblem(ps: PermissionSet): string | undefined {
  if (!ps.spec.inlinePolicy) return undefined;
  return inlinePolicyProblem(
    ps.spec.inlinePolicy,
    INLINE_POLICY_MAX_BYTES,
    INLINE_POLICY_MAX_CHARS,
  );
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
 * The roles an account needs: one per permission set that at least one assignment targets at
 * this account. Pure. Permission sets that are invalid or missing are reported as failures and
 * produce no role (their existing role, if any, is left alone by the caller).
 */
export function planAccountRoles(input: AccountPlanInput): {
  roles: DesiredRole[];
  failures: PairFailure[];
} {
  const wanted = new Set<string>();
  for (const assignment of input.assignments) {
    if (assignmentTargets(assignment, input.account)) wanted.add(assignment.spec.permissionSet);
  }
  const byName = new Map(input.permissionSets.map((ps) => [ps.metadata.name, ps]));
  const roles: DesiredRole[] = [];
  const failures: PairFailure[] = [];
  for (const name of [...wanted].sort()) {
    const ps = byName.get(name);
    if (!ps) {
      failures.push({ permissionSet: name, message: `PermissionSet "${name}" does not exist` });
      continue;
    }
    if (ps.metadata.deletionTimestamp) continue;
    const problem = permissionSetProblem(ps);
    if (problem) {
      failures.push({ permissionSet: name, message: problem });
      continue;
    }
    roles.push(desiredRole(input, ps));
  }
  return { roles, failures };
}
