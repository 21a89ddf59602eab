import type { Account, AccountStatus, IdentityCenter } from "../../api/v1alpha1/index.ts";
import { DEFAULT_ACCESS_ROLE_NAME } from "../../api/v1alpha1/index.ts";
import type { AccessRole } from "../../adapters/aws/account-clients.ts";
import { classifyAwsError, errorMessage, isNetworkFailure } from "../../adapters/aws/errors.ts";
import type { IamGateway } from "../../adapters/aws/iam-gateway.ts";
import { planAccountRoles, type DesiredRole } from "../../plan/desired-roles.ts";
import { iamArn, portalUrl, samlProviderName } from "../../plan/naming.ts";
import { diffRoles, type RolePlan } from "../../plan/role-diff.ts";
import { findCondition, setCondition, type ConditionInput } from "../../runtime/conditions.ts";
import {
  TerminalError,
  type ReconcileContext,
  type ReconcileResult,
} from "../../runtime/controller.ts";
import { idpEndpoints, idpMetadataXml } from "../../saml/metadata.ts";
import { mapLimit } from "../../util/concurrency.ts";
import { currentInstance } from "../../adapters/k8s/stores.ts";
import type { OperatorContext } from "../context.ts";

export const ACCOUNT_FINALIZER = "identitycenter.dev/account-cleanup";

type RoleStatus = NonNullable<AccountStatus["roles"]>[number];

export function accessRole(account: Account, partition: string): AccessRole {
  return {
    roleArn:
      account.spec.accessRoleArn ??
      iamArn(partition, account.spec.accountId, `role/${DEFAULT_ACCESS_ROLE_NAME}`),
    externalId: account.spec.externalId,
  };
}

/** The account's IAM gateway: one per access role, kept across reconciles. */
function gatewayFor(ctx: OperatorContext, account: Account, partition: string): IamGateway {
  return ctx.aws.accounts.forRole(accessRole(account, partition)).iam;
}

async function writeStatus(
  ctx: OperatorContext,
  account: Account,
  status: AccountStatus,
  ready: ConditionInput,
): Promise<void> {
  const next: AccountStatus = {
    ...status,
    observedGeneration: account.metadata.generation ?? 0,
    conditions: setCondition(
      account.status?.conditions,
      ready,
      account.metadata.generation,
      ctx.now(),
    ),
  };
  const before = findCondition(account.status?.conditions, "Ready");
  if (await ctx.accounts.client.updateStatus(account, next)) {
    if (ready.status === "False" && before?.reason !== ready.reason) {
      ctx.events.record(account, {
        type: "Warning",
        reason: ready.reason,
        note: ready.message,
        action: "Sync",
      });
    }
  }
}

/** Checks the access role lands in the right account; returns a condition when it does not. */
async function checkAccess(
  ctx: OperatorContext,
  account: Account,
  role: AccessRole,
): Promise<ConditionInput | undefined> {
  const client = ctx.aws.accounts.forRole(role);
  try {
    const landed = await client.callerAccount();
    if (landed === account.spec.accountId) return undefined;
    return {
      type: "Ready",
      status: "False",
      reason: "WrongAccount",
      message: `${role.roleArn} lands in account ${landed ?? "?"}, not ${account.spec.accountId}`,
    };
  } catch (err) {
    client.forgetCredentials();
    // An account that does not answer (every attempt timed out or was cut) says so.
    const reason =
      classifyAwsError(err) === "accessDenied"
        ? "AccessDenied"
        : isNetworkFailure(err)
          ? "Unreachable"
          : "AssumeRoleFailed";
    return {
      type: "Ready",
      status: "False",
      reason,
      message: `cannot assume ${role.roleArn}: ${errorMessage(err)}`,
    };
  }
}

interface Outcome {
  roleName: string;
  error?: unknown;
}

async function applyPlans(
  gateway: IamGateway,
  plans: RolePlan[],
  concurrency: number,
): Promise<Map<string, Outcome>> {
  const outcomes = await mapLimit(plans, concurrency, async (plan): Promise<Outcome> => {
    try {
      // Actions of one role run in order; roles run in parallel.
      for (const action of plan.actions) await gateway.apply(action);
      return { roleName: plan.roleName };
    } catch (err) {
      return { roleName: plan.roleName, error: err };
    }
  });
  return new Map(outcomes.map((o) => [o.roleName, o]));
}

/** Removes everything the operator owns in the account: roles, then the SAML provider. */
async function cleanUp(
  ctx: OperatorContext,
  account: Account,
  target: { instance: string; partition: string },
  log: ReconcileContext["log"],
): Promise<void> {
  const { instance, partition } = target;
  const gateway = gatewayFor(ctx, account, partition);
  const observed = await gateway.readOwnedRoles(instance);
  const outcomes = await applyPlans(
    gateway,
    diffRoles([], observed),
    ctx.aws.concurrencyPerAccount,
  );
  const failed = [...outcomes.values()].filter((o) => o.error !== undefined);
  if (failed.length > 0)
    throw new Error(
      `could not delete ${String(failed.length)} role(s): ${errorMessage(failed[0]?.error)}`,
    );
  await gateway.deleteSamlProvider(samlProviderName(instance));
  log.info(
    { roles: observed.length },
    "removed the operator's roles and SAML provider from the account",
  );
}

async function finalize(
  ctx: OperatorContext,
  account: Account,
  instance: IdentityCenter | undefined,
  log: ReconcileContext["log"],
): Promise<void> {
  const finalizers = account.metadata.finalizers ?? [];
  if (!finalizers.includes(ACCOUNT_FINALIZER)) return;
  if (account.spec.deletionPolicy === "Delete") {
    // If cleanup fails the finalizer stays and the deletion is retried.
    await cleanUp(
      ctx,
      account,
      {
        instance: instance?.metadata.name ?? "default",
        partition: instance?.spec.aws.partition ?? "aws",
      },
      log,
    );
  }
  await ctx.accounts.client.replace({
    ...account,
    metadata: {
      ...account.metadata,
      finalizers: finalizers.filter((f) => f !== ACCOUNT_FINALIZER),
    },
  });
}

function roleStatuses(
  target: { account: Account; partition: string },
  desired: DesiredRole[],
  failures: Map<string, string>,
  outcomes: Map<string, Outcome>,
): { roles: RoleStatus[]; retry: boolean; terminal: string | undefined } {
  const { account, partition } = target;
  const roles: RoleStatus[] = [];
  let retry = false;
  let terminal: string | undefined;
  for (const role of desired) {
    const arn = iamArn(partition, account.spec.accountId, `role${role.path}${role.roleName}`);
    const failure = failures.get(role.permissionSet);
    const outcome = outcomes.get(role.roleName);
    if (failure !== undefined) {
      roles.push({
        permissionSet: role.permissionSet,
        roleName: role.roleName,
        state: "Failed",
        message: failure,
      });
    } else if (outcome?.error !== undefined) {
      const kind = classifyAwsError(outcome.error);
      const message = errorMessage(outcome.error);
      if (kind === "throttled" || kind === "transient" || kind === "other") retry = true;
      if (kind === "malformed") terminal ??= message;
      roles.push({
        permissionSet: role.permissionSet,
        roleName: role.roleName,
        state: kind === "throttled" || kind === "transient" ? "Pending" : "Failed",
        message:
          kind === "conflict"
            ? `${message} (a role of that name exists and is not managed by the operator)`
            : message,
      });
    } else {
      roles.push({
        permissionSet: role.permissionSet,
        roleName: role.roleName,
        roleArn: arn,
        state: "Provisioned",
      });
    }
  }
  for (const [permissionSet, message] of failures) {
    if (!desired.some((r) => r.permissionSet === permissionSet))
      roles.push({ permissionSet, state: "Failed", message });
  }
  roles.sort((a, b) => a.permissionSet.localeCompare(b.permissionSet));
  return { roles, retry, terminal };
}

/**
 * One account's reconcile: assume its access role, keep the SAML provider current, work out the
 * roles it needs from every permission set and assignment, read the roles the operator owns
 * there, and apply only the difference. Steady state makes no IAM writes.
 */
export async function syncAccount(
  ctx: OperatorContext,
  { key, log }: ReconcileContext,
): Promise<ReconcileResult> {
  let account = ctx.accounts.informer.get(key);
  if (!account) return undefined;
  const instance = currentInstance(ctx);
  if (account.metadata.deletionTimestamp) {
    await finalize(ctx, account, instance, log);
    return undefined;
  }
  if (!(account.metadata.finalizers ?? []).includes(ACCOUNT_FINALIZER)) {
    account = await ctx.accounts.client.replace({
      ...account,
      metadata: {
        ...account.metadata,
        finalizers: [...(account.metadata.finalizers ?? []), ACCOUNT_FINALIZER],
      },
    });
  }
  const certificate = instance?.status?.signingCertificate;
  if (!instance || !certificate) {
    await writeStatus(ctx, account, account.status ?? {}, {
      type: "Ready",
      status: "False",
      reason: "WaitingForIdentityCenter",
      message: "no IdentityCenter with a signing certificate yet",
    });
    return undefined; // the IdentityCenter's status change enqueues every account
  }
  const partition = instance.spec.aws.partition;
  const role = accessRole(account, partition);
  const accessProblem = await checkAccess(ctx, account, role);
  if (accessProblem) {
    await writeStatus(ctx, account, account.status ?? {}, accessProblem);
    if (accessProblem.reason === "WrongAccount")
      throw new TerminalError(accessProblem.reason, accessProblem.message);
    throw new Error(accessProblem.message);
  }
  const gateway = gatewayFor(ctx, account, partition);
  const samlProviderArn = await gateway.ensureSamlProvider(
    samlProviderName(instance.metadata.name),
    idpMetadataXml(idpEndpoints(portalUrl(instance)), certificate),
  );

  const plan = planAccountRoles({
    instance: { name: instance.metadata.name, partition, signInUrl: instance.spec.aws.signInUrl },
    account,
    samlProviderArn,
    permissionSets: ctx.permissionSets.informer.list(),
    assignments: ctx.assignments.informer.list().filter((a) => !a.metadata.deletionTimestamp),
  });
  const failures = new Map(plan.failures.map((f) => [f.permissionSet, f.message]));
  // A role whose customer managed policy is missing here fails alone; the rest proceed.
  const exists = new Map<string, Promise<boolean>>();
  const frozen = new Set<string>();
  for (const r of plan.roles) {
    for (const arn of r.customerManagedPolicyArns) {
      if (!exists.has(arn)) exists.set(arn, gateway.policyExists(arn));
      if (!(await exists.get(arn))) {
        failures.set(
          r.permissionSet,
          `customer managed policy ${arn} does not exist in account ${account.spec.accountId}`,
        );
        frozen.add(r.roleName);
      }
    }
  }
  const observed = await gateway.readOwnedRoles(instance.metadata.name);
  const plans = diffRoles(plan.roles, observed, frozen);
  const writesBefore = gateway.writes;
  const outcomes = await applyPlans(gateway, plans, ctx.aws.concurrencyPerAccount);
  const { roles, retry, terminal } = roleStatuses(
    { account, partition },
    plan.roles,
    failures,
    outcomes,
  );
  const failed = roles.filter((r) => r.state !== "Provisioned");
  if (plans.length > 0)
    log.info(
      { roles: plans.length, writes: gateway.writes - writesBefore, failed: failed.length },
      "applied IAM changes",
    );

  const deleted = new Set(
    plans
      .filter(
        (p) => p.actions.some((a) => a.type === "deleteRole") && !outcomes.get(p.roleName)?.error,
      )
      .map((p) => p.roleName),
  );
  const created = plans.filter(
    (p) => p.actions[0]?.type === "createRole" && !outcomes.get(p.roleName)?.error,
  ).length;
  await writeStatus(
    ctx,
    account,
    {
      ...account.status,
      samlProviderArn,
      managedRoles: observed.filter((r) => !deleted.has(r.roleName)).length + created,
      roles,
      lastSyncTime: failed.length === 0 ? ctx.now().toISOString() : account.status?.lastSyncTime,
    },
    failed.length === 0
      ? {
          type: "Ready",
          status: "True",
          reason: "Synced",
          message: `${String(roles.length)} role(s) provisioned`,
        }
      : {
          type: "Ready",
          status: "False",
          reason: "RolesFailed",
          message: failed
            .map((r) => `${r.permissionSet}: ${r.message ?? r.state}`)
            .join("; ")
            .slice(0, 2000),
        },
  );
  if (retry) throw new Error(`${String(failed.length)} role(s) not provisioned yet; retrying`);
  if (terminal)
    log.warn(
      { err: terminal },
      "IAM refused a role's input; waiting for the permission set to change",
    );
  return { requeueAfterMs: ctx.resyncMs };
}
