import type { Account, AccountProvisioning, ConditionInput } from "../api/v1alpha1/index.ts";

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
    ...(role?.reason ? { reason: role.reason } : {}),
    ...(role?.message ? { message: role.message } : {}),
  };
}

/**
 * The permission sets whose row in an Account's status differs between two versions of it
 * (all of them when one version is missing): what the PermissionSet and AccountAssignment
 * controllers report changes only with these.
 */
export function changedRows(next: Account | undefined, old: Account | undefined): string[] {
  const rows = (a: Account | undefined) =>
    new Map((a?.status?.roles ?? []).map((r) => [r.permissionSet, JSON.stringify(r)]));
  const before = rows(old);
  const after = rows(next);
  return [...new Set([...before.keys(), ...after.keys()])].filter(
    (name) => before.get(name) !== after.get(name),
  );
}

/** The Ready condition of something provisioned in these accounts (a role, an assignment). */
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
