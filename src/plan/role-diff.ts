import type { DesiredRole } from "./desired-roles.ts";
import { INLINE_POLICY_NAME, TAG_PERMISSION_SET } from "./naming.ts";
import { decodePolicy, samePolicy, type PolicyDocument } from "./policy-document.ts";

/** An owned role as read from IAM. */
export interface ObservedRole {
  roleName: string;
  arn: string;
  path: string;
  description: string;
  maxSessionDuration: number;
  trustPolicy: string;
  attachedPolicyArns: string[];
  inlinePolicies: Record<string, string>;
  permissionsBoundaryArn: string | undefined;
  tags: Record<string, string>;
}

export type RoleAction =
  | { type: "createRole"; role: DesiredRole }
  | { type: "updateAssumeRolePolicy"; roleName: string; document: PolicyDocument }
  | { type: "updateRole"; roleName: string; description: string; maxSessionDuration: number }
  | { type: "attachRolePolicy"; roleName: string; policyArn: string }
  | { type: "detachRolePolicy"; roleName: string; policyArn: string }
  | { type: "putRolePolicy"; roleName: string; policyName: string; document: PolicyDocument }
  | { type: "deleteRolePolicy"; roleName: string; policyName: string }
  | { type: "putRolePermissionsBoundary"; roleName: string; policyArn: string }
  | { type: "deleteRolePermissionsBoundary"; roleName: string }
  | { type: "tagRole"; roleName: string; tags: Record<string, string> }
  | { type: "untagRole"; roleName: string; keys: string[] }
  | { type: "deleteRole"; roleName: string };

/** The ordered actions for one role; roles are independent of each other. */
export interface RolePlan {
  roleName: string;
  permissionSet: string | undefined;
  actions: RoleAction[];
}

function createActions(role: DesiredRole): RoleAction[] {
  // CreateRole carries the trust policy, description, session length, boundary and tags.
  // The inline policy goes first: it is what IAM most often refuses, and a refusal then
  // leaves the least to undo.
  return [
    { type: "createRole", role },
    ...(role.inlinePolicy
      ? [
          {
            type: "putRolePolicy",
            roleName: role.roleName,
            policyName: INLINE_POLICY_NAME,
            document: role.inlinePolicy,
          } as const,
        ]
      : []),
    ...role.managedPolicyArns.map((policyArn): RoleAction => ({
      type: "attachRolePolicy",
      roleName: role.roleName,
      policyArn,
    })),
  ];
}

function deleteActions(role: ObservedRole): RoleAction[] {
  // IAM refuses to delete a role that still has policies: detach and delete them first.
  return [
    ...role.attachedPolicyArns.map((policyArn): RoleAction => ({
      type: "detachRolePolicy",
      roleName: role.roleName,
      policyArn,
    })),
    ...Object.keys(role.inlinePolicies).map((policyName): RoleAction => ({
      type: "deleteRolePolicy",
      roleName: role.roleName,
      policyName,
    })),
    { type: "deleteRole", roleName: role.roleName },
  ];
}

/**
 * The actions that bring `have` to `want`, in the order that keeps a refusal cheap: first the
 * writes IAM may refuse for their content (the inline policy, then the rest), and removals last,
 * so a plan stopped half-way has taken nothing away.
 */
function updateActions(want: DesiredRole, have: ObservedRole): RoleAction[] {
  const name = want.roleName;
  const actions: RoleAction[] = [];
  const inline = have.inlinePolicies[INLINE_POLICY_NAME];
  if (want.inlinePolicy && (inline === undefined || !samePolicy(want.inlinePolicy, inline))) {
    actions.push({
      type: "putRolePolicy",
      roleName: name,
      policyName: INLINE_POLICY_NAME,
      document: want.inlinePolicy,
    });
  }
  if (!samePolicy(want.trustPolicy, have.trustPolicy)) {
    actions.push({ type: "updateAssumeRolePolicy", roleName: name, document: want.trustPolicy });
  }
  if (
    want.description !== have.description ||
    want.maxSessionDuration !== have.maxSessionDuration
  ) {
    actions.push({
      type: "updateRole",
      roleName: name,
      description: want.description,
      maxSessionDuration: want.maxSessionDuration,
    });
  }
  if (want.permissionsBoundaryArn !== have.permissionsBoundaryArn) {
    actions.push(
      want.permissionsBoundaryArn
        ? {
            type: "putRolePermissionsBoundary",
            roleName: name,
            policyArn: want.permissionsBoundaryArn,
          }
        : { type: "deleteRolePermissionsBoundary", roleName: name },
    );
  }
  const changedTags = Object.fromEntries(
    Object.entries(want.tags).filter(([k, v]) => have.tags[k] !== v),
  );
  if (Object.keys(changedTags).length > 0)
    actions.push({ type: "tagRole", roleName: name, tags: changedTags });
  const removedTags = Object.keys(have.tags).filter((k) => !(k in want.tags));
  if (removedTags.length > 0)
    actions.push({ type: "untagRole", roleName: name, keys: removedTags.sort() });
  const attached = new Set(have.attachedPolicyArns);
  const wanted = new Set(want.managedPolicyArns);
  for (const arn of want.managedPolicyArns)
    if (!attached.has(arn))
      actions.push({ type: "attachRolePolicy", roleName: name, policyArn: arn });
  for (const arn of [...attached].sort())
    if (!wanted.has(arn))
      actions.push({ type: "detachRolePolicy", roleName: name, policyArn: arn });
  for (const policyName of Object.keys(have.inlinePolicies).sort()) {
    if (policyName !== INLINE_POLICY_NAME || !want.inlinePolicy)
      actions.push({ type: "deleteRolePolicy", roleName: name, policyName });
  }
  return actions;
}

/**
 * Desired versus observed owned roles -> the actions that converge them, in a safe order per
 * role (create before attach; detach and delete inline before delete). Roles of the permission
 * sets in `frozen` (whose inputs have a problem) are left exactly as they are, present or not.
 * Nothing unowned is ever in `observed`, so nothing unowned is ever touched. Pure.
 */
export function diffRoles(
  desired: readonly DesiredRole[],
  observed: readonly ObservedRole[],
  frozen: ReadonlySet<string> = new Set(),
): RolePlan[] {
  const have = new Map(observed.map((r) => [r.roleName, r]));
  const plans: RolePlan[] = [];
  for (const want of desired) {
    if (frozen.has(want.permissionSet)) continue;
    const current = have.get(want.roleName);
    const actions = current ? updateActions(want, current) : createActions(want);
    if (actions.length > 0)
      plans.push({ roleName: want.roleName, permissionSet: want.permissionSet, actions });
  }
  const wantedNames = new Set(desired.map((r) => r.roleName));
  for (const role of observed) {
    const permissionSet = role.tags[TAG_PERMISSION_SET];
    if (wantedNames.has(role.roleName)) continue;
    if (permissionSet !== undefined && frozen.has(permissionSet)) continue;
    plans.push({ roleName: role.roleName, permissionSet, actions: deleteActions(role) });
  }
  return plans;
}

/** An observed role as the desired state that would reproduce it (for undoing a refused plan). */
function asDesired(role: ObservedRole): DesiredRole {
  const inline = role.inlinePolicies[INLINE_POLICY_NAME];
  return {
    roleName: role.roleName,
    path: role.path,
    permissionSet: role.tags[TAG_PERMISSION_SET] ?? "",
    description: role.description,
    maxSessionDuration: role.maxSessionDuration,
    trustPolicy: JSON.parse(decodePolicy(role.trustPolicy)) as PolicyDocument,
    managedPolicyArns: [...role.attachedPolicyArns].sort(),
    customerManagedPolicyArns: [],
    inlinePolicy:
      inline === undefined ? undefined : (JSON.parse(decodePolicy(inline)) as PolicyDocument),
    permissionsBoundaryArn: role.permissionsBoundaryArn,
    tags: { ...role.tags },
  };
}

/**
 * The actions that put a role back the way it was before a plan IAM refused half-way: a role
 * the plan created is deleted again; a role it changed gets back its trust, settings, boundary,
 * tags, attached policies and inline policy. Pure.
 */
export function restoreActions(
  before: ObservedRole | undefined,
  now: ObservedRole | undefined,
): RoleAction[] {
  if (!now) return [];
  if (!before) return deleteActions(now);
  const want = asDesired(before);
  const actions = updateActions(want, now);
  // updateActions removes inline policies the desired state lacks; keep the ones `before` had.
  return actions.filter(
    (a) => !(a.type === "deleteRolePolicy" && a.policyName in before.inlinePolicies),
  );
}

/** What the controller read in the account before writing, for the checks IAM would make. */
export interface AccountFacts {
  /** Policy ARNs (to attach or to use as a boundary) that do not exist in the account. */
  missingPolicies: ReadonlySet<string>;
  /** IAM's AttachedPoliciesPerRoleQuota for the account, when read. */
  attachedPoliciesPerRole?: number | undefined;
  /** IAM's RolesQuota and the account's current role count, when read. */
  rolesQuota?: number | undefined;
  roles?: number | undefined;
}

/** The policy ARNs the plans would attach or set as a boundary: each must exist first. */
export function referencedPolicyArns(plans: readonly RolePlan[]): string[] {
  const arns = new Set<string>();
  for (const plan of plans) {
    for (const a of plan.actions) {
      if (a.type === "attachRolePolicy" || a.type === "putRolePermissionsBoundary")
        arns.add(a.policyArn);
      if (a.type === "createRole" && a.role.permissionsBoundaryArn)
        arns.add(a.role.permissionsBoundaryArn);
    }
  }
  return [...arns].sort();
}

/** Whether the plans add roles or attachments, so the account's quotas matter. */
export function plansNeedQuotas(plans: readonly RolePlan[]): boolean {
  return plans.some((p) =>
    p.actions.some((a) => a.type === "createRole" || a.type === "attachRolePolicy"),
  );
}

const isAwsManaged = (arn: string) => /^arn:[^:]+:iam::aws:policy\//.test(arn);

/**
 * The problems IAM would raise half-way through a plan, found before any write: a policy to
 * attach that does not exist, more attached policies than the account allows per role, more
 * roles than it allows. The permission sets returned are frozen; their plans are not applied.
 */
export function preflightProblems(
  plans: readonly RolePlan[],
  observed: readonly ObservedRole[],
  facts: AccountFacts & { accountId: string },
): Map<string, { reason: string; message: string }> {
  const problems = new Map<string, { reason: string; message: string }>();
  const have = new Map(observed.map((r) => [r.roleName, r]));
  let newRoles = 0;
  const headroom =
    facts.rolesQuota !== undefined && facts.roles !== undefined
      ? facts.rolesQuota - facts.roles
      : Infinity;
  for (const plan of plans) {
    const ps = plan.permissionSet;
    if (ps === undefined) continue;
    const missing = referencedPolicyArns([plan]).filter((arn) => facts.missingPolicies.has(arn));
    if (missing.length > 0) {
      problems.set(ps, {
        reason: "PolicyNotFound",
        message: missing
          .map(
            (arn) =>
              `${isAwsManaged(arn) ? "AWS managed policy" : "customer managed policy"} ${arn} does not exist in account ${facts.accountId}`,
          )
          .join("; "),
      });
      continue;
    }
    const attached = new Set(have.get(plan.roleName)?.attachedPolicyArns ?? []);
    for (const a of plan.actions) {
      if (a.type === "attachRolePolicy") attached.add(a.policyArn);
      if (a.type === "detachRolePolicy") attached.delete(a.policyArn);
    }
    const quota = facts.attachedPoliciesPerRole;
    if (quota !== undefined && attached.size > quota) {
      problems.set(ps, {
        reason: "QuotaExceeded",
        message: `the role would have ${String(attached.size)} managed policies; account ${facts.accountId} allows ${String(quota)} per role (IAM quota AttachedPoliciesPerRoleQuota)`,
      });
      continue;
    }
    if (plan.actions[0]?.type === "createRole") {
      newRoles++;
      if (newRoles > headroom) {
        problems.set(ps, {
          reason: "QuotaExceeded",
          message: `account ${facts.accountId} has ${String(facts.roles)} of the ${String(facts.rolesQuota)} roles IAM allows (IAM quota RolesQuota)`,
        });
      }
    }
  }
  return problems;
}
