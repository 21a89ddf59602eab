import type { AccountAssignmentStatus } from "../../api/v1alpha1/index.ts";
import { principalProblem } from "../../identity/directory.ts";
import { assignmentTargets } from "../../plan/desired-roles.ts";
import { provisioningRow, summarize } from "../../plan/provisioning.ts";
import { setCondition, type ConditionInput } from "../../runtime/conditions.ts";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.ts";
import type { OperatorContext } from "../context.ts";

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
