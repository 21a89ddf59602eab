import type {
  Account,
  AccountProvisioning,
  PermissionSetStatus,
} from "../../api/v1alpha1/index.ts";
import { permissionSetName, permissionSetProblem } from "../../plan/desired-roles.ts";
import { setCondition, type ConditionInput } from "../../runtime/conditions.ts";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.ts";
import type { OperatorContext } from "../context.ts";

/**
 * The permission set's role in one account, as the Account controller last reported it;
 * Pending when the account has not reported it yet.
 */
export function provisioningRow(account: Account, permissionSet: string): AccountProvisioning {
  const role = account.status?.roles?.find((r) => r.permissionSet === permissionSet);
  return {
    account: account.metadata.name,
    accountId: account.spec.accountId,
    state: role?.state ?? "Pending",
    ...(role?.roleArn ? { roleArn: role.roleArn } : {}),
    ...(role?.message ? { message: role.message } : {}),
  };
}

/** The permission set's role in every account that reports one, sorted by account. */
export function provisioningOf(ctx: OperatorContext, permissionSet: string): AccountProvisioning[] {
  return ctx.accounts.informer
    .list()
    .filter((a) => a.status?.roles?.some((r) => r.permissionSet === permissionSet))
    .map((a) => provisioningRow(a, permissionSet))
    .sort((a, b) => a.account.localeCompare(b.account));
}

export function summarize(rows: AccountProvisioning[], subject: string): ConditionInput {
  const failed = rows.filter((r) => r.state === "Failed");
  const pending = rows.filter((r) => r.state === "Pending");
  if (failed.length > 0) {
    return {
      type: "Ready",
      status: "False",
      reason: "ProvisioningFailed",
      message: failed
        .map((r) => `${r.account}: ${r.message ?? "failed"}`)
        .join("; ")
        .slice(0, 2000),
    };
  }
  if (pending.length > 0) {
    return {
      type: "Ready",
      status: "False",
      reason: "Pending",
      message: `waiting for ${String(pending.length)} account(s): ${pending.map((r) => r.account).join(", ")}`,
    };
  }
  return {
    type: "Ready",
    status: "True",
    reason: "Provisioned",
    message: `${subject} provisioned in ${String(rows.length)} account(s)`,
  };
}

export async function syncPermissionSet(
  ctx: OperatorContext,
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
        reason: "InvalidPolicy",
        message: `${problem}; no role is created or changed until this is fixed`,
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
  await ctx.permissionSets.client.updateStatus(ps, status);
  return undefined;
}
