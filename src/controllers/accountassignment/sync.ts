import type { AccountAssignmentStatus } from "../../api/v1alpha1/index.ts";
import { principalProblem } from "../../identity/directory.ts";
import { assignmentProblem, assignmentTargets } from "../../plan/desired-roles.ts";
import { provisioningRow, summarize } from "../../plan/provisioning.ts";
import { setCondition, type ConditionInput } from "../../runtime/conditions.ts";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.ts";
import { reportNow, type StatusPacer } from "../../runtime/status-pacer.ts";
import type { OperatorContext } from "../context.ts";

export async function syncAccountAssignment(
  ctx: OperatorContext,
  pacer: StatusPacer,
  { key }: ReconcileContext,
): Promise<ReconcileResult> {
  const a = ctx.assignments.informer.get(key);
  if (!a) return undefined;
  const rows = ctx.accounts.informer
    .list()
    .filter((account) => assignmentTargets(a, account))
    .map((account) => provisioningRow(account, a.spec.permissionSet));
  rows.sort((x, y) => x.account.localeCompare(y.account));
  const principal = principalProblem(ctx, a.spec.principal);
  const problem = assignmentProblem(a, {
    permissionSets: ctx.permissionSets.informer.list(),
    accounts: ctx.accounts.informer.list(),
  });
  let ready: ConditionInput;
  if (problem)
    ready = {
      type: "Ready",
      status: "False",
      reason: problem.reason,
      message: `${problem.message}; the roles this assignment granted are kept as they are and none is created until this is fixed`,
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
  const wait = reportNow(a.status, status) ? 0 : pacer.delay(key, rows.length);
  if (wait > 0) return { requeueAfterMs: wait };
  if (await ctx.assignments.client.updateStatus(a, status)) pacer.wrote(key);
  return undefined;
}
