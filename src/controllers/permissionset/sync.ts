import type { AccountProvisioning, PermissionSetStatus } from "../../api/v1alpha1/index.ts";
import { permissionSetName, permissionSetProblem } from "../../plan/desired-roles.ts";
import { provisioningRow, summarize } from "../../plan/provisioning.ts";
import { setCondition, type ConditionInput } from "../../runtime/conditions.ts";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.ts";
import { reportNow, type StatusPacer } from "../../runtime/status-pacer.ts";
import type { OperatorContext } from "../context.ts";

/** The permission set's role in every account that reports one, sorted by account. */
export function provisioningOf(ctx: OperatorContext, permissionSet: string): AccountProvisioning[] {
  return ctx.accounts.informer
    .list()
    .filter((a) => a.status?.roles?.some((r) => r.permissionSet === permissionSet))
    .map((a) => provisioningRow(a, permissionSet))
    .sort((a, b) => a.account.localeCompare(b.account));
}

export async function syncPermissionSet(
  ctx: OperatorContext,
  pacer: StatusPacer,
  { key }: ReconcileContext,
): Promise<ReconcileResult> {
  const ps = ctx.permissionSets.informer.get(key);
  if (!ps) return undefined;
  const rows = provisioningOf(ctx, ps.metadata.name);
  const problem = permissionSetProblem(ps);
  const ready: ConditionInput = problem
    ? {
        type: "Ready",
        status: "False",
        reason: problem.reason,
        message: `${problem.message}; existing roles are kept as they are and no role is created or changed until this is fixed`,
      }
    : summarize(rows, "role");
  const status: PermissionSetStatus = {
    ...ps.status,
    observedGeneration: ps.metadata.generation ?? 0,
    name: permissionSetName(ps),
    provisionedAccounts: rows.filter((r) => r.state === "Provisioned").length,
    accounts: rows,
    conditions: setCondition(ps.status?.conditions, ready, ps.metadata.generation, ctx.now()),
  };
  const wait = reportNow(ps.status, status) ? 0 : pacer.delay(key, rows.length);
  if (wait > 0) return { requeueAfterMs: wait };
  if (await ctx.permissionSets.client.updateStatus(ps, status)) pacer.wrote(key);
  return undefined;
}
