import type { AccountAssignmentStatus } from "../../api/v1alpha1/index.ts";
import { isValidUser } from "../../identity/directory.ts";
import { assignmentTargets } from "../../plan/desired-roles.ts";
import { setCondition, type ConditionInput } from "../../runtime/conditions.ts";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.ts";
import type { OperatorContext } from "../context.ts";
import { provisioningRow, summarize } from "../permissionset/sync.ts";

/** Why a principal cannot receive access, if it cannot. */
export function principalProblem(
  ctx: OperatorContext,
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

export async function syncAccountAssignment(
  ctx: OperatorContext,
  { key }: ReconcileContext,
): Promise<ReconcileResult> {
  const a = ctx.assignments.informer.get(key);
  if (!a) return undefined;
  const ps = ctx.permissionSets.informer.get(a.spec.permissionSet);
  const rows = ctx.accounts.informer
    .list()
    .filter((account) => assignmentTargets(a, account))
    .map((account) => provisioningRow(account, a.spec.permissionSet));
  rows.sort((x, y) => x.account.localeCompare(y.account));
  const unknownIds = (a.spec.accounts ?? []).filter(
    (ref) => !rows.some((r) => r.account === ref || r.accountId === ref),
  );
  const principal = principalProblem(ctx, a.spec.principal);
  let ready: ConditionInput;
  if (!ps)
    ready = {
      type: "Ready",
      status: "False",
      reason: "PermissionSetNotFound",
      message: `PermissionSet "${a.spec.permissionSet}" does not exist`,
    };
  else if (unknownIds.length > 0)
    ready = {
      type: "Ready",
      status: "False",
      reason: "AccountNotFound",
      message: `no Account for ${unknownIds.join(", ")}`,
    };
  else if (principal)
    ready = {
      type: "Ready",
      status: "False",
      reason: "PrincipalNotFound",
      message: `${principal}; the roles exist but nobody can use them through this assignment`,
    };
  else ready = summarize(rows, "the permission set is");
  const status: AccountAssignmentStatus = {
    ...a.status,
    observedGeneration: a.metadata.generation ?? 0,
    accountCount: rows.length,
    accounts: rows,
    conditions: setCondition(a.status?.conditions, ready, a.metadata.generation, ctx.now()),
  };
  await ctx.assignments.client.updateStatus(a, status);
  return undefined;
}
