import type { DesiredRole } from "./desired-roles.ts";
import { INLINE_POLICY_NAME, TAG_PERMISSION_SET } from "./naming.ts";
import { samePolicy, type PolicyDocument } from "./policy-document.ts";

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
  return [
    { type: "createRole", role },
    ...role.managedPolicyArns.map((policyArn): RoleAction => ({
      type: "attachRolePolicy",
      roleName: role.roleName,
      policyArn,
    })),
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

function updateActions(want: DesiredRole, have: ObservedRole): RoleAction[] {
  const name = want.roleName;
  const actions: RoleAction[] = [];
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
  const inline = have.inlinePolicies[INLINE_POLICY_NAME];
  if (want.inlinePolicy && (inline === undefined || !samePolicy(want.inlinePolicy, inline))) {
    actions.push({
      type: "putRolePolicy",
      roleName: name,
      policyName: INLINE_POLICY_NAME,
      document: want.inlinePolicy,
    });
  }
  for (const policyName of Object.keys(have.inlinePolicies).sort()) {
    if (policyName !== INLINE_POLICY_NAME || !want.inlinePolicy)
      actions.push({ type: "deleteRolePolicy", roleName: name, policyName });
  }
  return actions;
}

/**
 * Desired versus observed owned roles -> the actions that converge them, in a safe order per
 * role (create before attach; detach and delete inline before delete). Roles in `frozen` (whose
 * inputs are broken, for example a missing customer managed policy) are left as they are.
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
    if (frozen.has(want.roleName)) continue;
    const current = have.get(want.roleName);
    const actions = current ? updateActions(want, current) : createActions(want);
    if (actions.length > 0)
      plans.push({ roleName: want.roleName, permissionSet: want.permissionSet, actions });
  }
  const wantedNames = new Set(desired.map((r) => r.roleName));
  for (const role of observed) {
    if (wantedNames.has(role.roleName) || frozen.has(role.roleName)) continue;
    plans.push({
      roleName: role.roleName,
      permissionSet: role.tags[TAG_PERMISSION_SET],
      actions: deleteActions(role),
    });
  }
  return plans;
}
