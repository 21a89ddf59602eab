import type { Account, AccountStatus, IdentityCenter } from "../../api/v1alpha1/index.ts";
import { DEFAULT_ACCESS_ROLE_NAME } from "../../api/v1alpha1/index.ts";
import type { AccessRole } from "../../adapters/aws/account-clients.ts";
import { classifyAwsError, errorMessage, isNetworkFailure } from "../../adapters/aws/errors.ts";
import type { IamGateway } from "../../adapters/aws/iam-gateway.ts";
import { isDeepStrictEqual } from "node:util";
import {
  duplicateAccountProblem,
  IAM_REFUSED,
  planAccountRoles,
  type PairDecision,
} from "../../plan/desired-roles.ts";
import { iamArn, portalUrl, samlProviderName, TAG_PERMISSION_SET } from "../../plan/naming.ts";
import {
  diffRoles,
  plansNeedQuotas,
  preflightProblems,
  referencedPolicyArns,
  restoreActions,
  type ObservedRole,
  type RolePlan,
} from "../../plan/role-diff.ts";
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
type RemovalStatus = NonNullable<AccountStatus["removals"]>[number];

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

/**
 * The Account reconcile's context: the operator's, plus the resourceVersion each account's last
 * status write was based on. Until the cache shows a newer version, it still holds the status
 * from before that write, which must not be read as the account's memory (which assignments
 * granted a role, what IAM refused).
 */
export type AccountSyncContext = OperatorContext & {
  statusWrittenFrom: Map<string, { basedOn: string; at: number }>;
};

/** How soon to look again when the cache has not caught up with our own status write. */
const CACHE_CATCH_UP_MS = 200;
/** How long to wait for that at most (a watch that is down is restarted meanwhile). */
const CACHE_CATCH_UP_LIMIT_MS = 10_000;

async function writeStatus(
  ctx: AccountSyncContext,
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
  const stored = await ctx.accounts.client.writeStatus(account, next);
  if (stored) {
    // A write the API server found to change nothing keeps the version: nothing to wait for.
    if (stored.metadata.resourceVersion !== account.metadata.resourceVersion)
      ctx.statusWrittenFrom.set(account.metadata.name, {
        basedOn: account.metadata.resourceVersion ?? "",
        at: ctx.now().getTime(),
      });
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
  /** For a refused change: whether the role was put back the way it was. */
  restored?: boolean;
}

/** Errors that retrying the same input cannot fix: the half-applied change is undone. */
const refusal = (err: unknown) => {
  const kind = classifyAwsError(err);
  return kind === "malformed" || kind === "notFound";
};

async function applyPlans(
  gateway: IamGateway,
  plans: RolePlan[],
  options: { concurrency: number; instance: string; observed: readonly ObservedRole[] },
): Promise<Map<string, Outcome>> {
  const before = new Map(options.observed.map((r) => [r.roleName, r]));
  const outcomes = await mapLimit(plans, options.concurrency, async (plan): Promise<Outcome> => {
    try {
      // Actions of one role run in order; roles run in parallel.
      for (const action of plan.actions) await gateway.apply(action);
      return { roleName: plan.roleName };
    } catch (err) {
      const removing = plan.actions.some((a) => a.type === "deleteRole");
      if (removing || !refusal(err)) return { roleName: plan.roleName, error: err };
      // IAM refused the input half-way: put the role back as it was, so nothing is half-built.
      try {
        const now = await gateway.readOwnedRole(plan.roleName, options.instance);
        for (const action of restoreActions(before.get(plan.roleName), now))
          await gateway.apply(action);
        return { roleName: plan.roleName, error: err, restored: true };
      } catch {
        return { roleName: plan.roleName, error: err, restored: false };
      }
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
  const outcomes = await applyPlans(gateway, diffRoles([], observed), {
    concurrency: ctx.aws.concurrencyPerAccount,
    instance,
    observed,
  });
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
  if (!(account.metadata.finalizers ?? []).includes(ACCOUNT_FINALIZER)) return;
  // Another Account object still manages this AWS account: its roles are not ours to remove.
  const sharedWith = ctx.accounts.informer
    .list()
    .find(
      (a) =>
        a.metadata.name !== account.metadata.name &&
        a.spec.accountId === account.spec.accountId &&
        !a.metadata.deletionTimestamp,
    );
  if (account.spec.deletionPolicy === "Delete" && !sharedWith) {
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
  await ctx.accounts.client.removeFinalizer(account, ACCOUNT_FINALIZER);
}

interface RoleReport {
  roles: RoleStatus[];
  removals: RemovalStatus[];
  retry: boolean;
}

function awsReason(kind: ReturnType<typeof classifyAwsError>): string {
  switch (kind) {
    case "throttled":
      return "Throttled";
    case "transient":
      return "AwsUnavailable";
    case "accessDenied":
      return "AccessDenied";
    case "conflict":
      return "Conflict";
    case "malformed":
      return IAM_REFUSED;
    case "notFound":
      return "NotFound";
    case "other":
      return "AwsError";
  }
}

/** The account's status rows: one per pair, and one per role whose removal is not done. */
function report(
  target: { account: Account; partition: string; generations: Map<string, number | undefined> },
  pairs: PairDecision[],
  observed: readonly ObservedRole[],
  applied: { plans: RolePlan[]; outcomes: Map<string, Outcome> },
): RoleReport {
  const { account, partition } = target;
  const { plans, outcomes } = applied;
  const arnOf = (roleName: string, path: string) =>
    iamArn(partition, account.spec.accountId, `role${path}${roleName}`);
  const roles: RoleStatus[] = [];
  let retry = false;
  for (const pair of pairs) {
    const { permissionSet, assignments } = pair;
    const role = pair.role;
    if (!role) {
      // Frozen or failed: report the role that is kept, if there is one.
      const kept = observed.find((r) => r.tags[TAG_PERMISSION_SET] === permissionSet);
      roles.push({
        permissionSet,
        ...(kept && pair.holds ? { roleName: kept.roleName, roleArn: kept.arn } : {}),
        state: "Failed",
        reason: pair.problem?.reason ?? "Failed",
        message: pair.problem?.message ?? "not provisioned",
        assignments,
        ...(pair.problem?.permissionSetGeneration === undefined
          ? {}
          : { permissionSetGeneration: pair.problem.permissionSetGeneration }),
      });
      continue;
    }
    const outcome = outcomes.get(role.roleName);
    if (outcome?.error === undefined) {
      roles.push({
        permissionSet,
        roleName: role.roleName,
        roleArn: arnOf(role.roleName, role.path),
        state: "Provisioned",
        assignments,
      });
      continue;
    }
    const kind = classifyAwsError(outcome.error);
    const message = errorMessage(outcome.error);
    const existed = observed.some((r) => r.roleName === role.roleName);
    if (kind === "malformed") {
      const generation = target.generations.get(permissionSet);
      roles.push({
        permissionSet,
        roleName: role.roleName,
        ...(existed ? { roleArn: arnOf(role.roleName, role.path) } : {}),
        state: "Failed",
        reason: IAM_REFUSED,
        message: `IAM refused the permission set: ${message}; ${
          outcome.restored === false
            ? "putting the role back failed and is retried"
            : existed
              ? "the role is kept as it was"
              : "no role is created"
        } until the permission set changes`,
        assignments,
        ...(generation === undefined || outcome.restored === false
          ? {}
          : { permissionSetGeneration: generation }),
      });
      if (outcome.restored === false) retry = true;
      continue;
    }
    if (kind !== "accessDenied" && kind !== "conflict") retry = true;
    roles.push({
      permissionSet,
      roleName: role.roleName,
      ...(existed ? { roleArn: arnOf(role.roleName, role.path) } : {}),
      state: kind === "throttled" || kind === "transient" ? "Pending" : "Failed",
      reason: awsReason(kind),
      message:
        kind === "conflict"
          ? `${message} (a role of that name exists and is not managed by the operator)`
          : message,
      assignments,
    });
  }
  const removals: RemovalStatus[] = [];
  for (const plan of plans) {
    if (!plan.actions.some((a) => a.type === "deleteRole")) continue;
    const error = outcomes.get(plan.roleName)?.error;
    if (error === undefined) continue;
    const kind = classifyAwsError(error);
    retry = true;
    removals.push({
      roleName: plan.roleName,
      ...(plan.permissionSet === undefined ? {} : { permissionSet: plan.permissionSet }),
      state: kind === "throttled" || kind === "transient" ? "Pending" : "Failed",
      reason: kind === "conflict" ? "DeleteConflict" : awsReason(kind),
      message: `the role is no longer wanted but could not be removed: ${errorMessage(error)}`,
    });
  }
  roles.sort((a, b) => a.permissionSet.localeCompare(b.permissionSet));
  removals.sort((a, b) => a.roleName.localeCompare(b.roleName));
  return { roles, removals, retry };
}

function readyCondition(roles: RoleStatus[], removals: RemovalStatus[]): ConditionInput {
  const failed = roles.filter((r) => r.state !== "Provisioned");
  if (failed.length === 0 && removals.length === 0) {
    return {
      type: "Ready",
      status: "True",
      reason: "Synced",
      message: `${String(roles.length)} role(s) provisioned`,
    };
  }
  const lines = [
    ...failed.map((r) => `${r.permissionSet}: ${r.reason ?? r.state}: ${r.message ?? r.state}`),
    ...removals.map((r) => `removing ${r.roleName}: ${r.reason}: ${r.message}`),
  ];
  return {
    type: "Ready",
    status: "False",
    reason:
      failed.length > 0
        ? "RolesFailed"
        : removals.some((r) => r.state === "Failed")
          ? "RemovalFailed"
          : "RemovalPending",
    message: lines.join("; ").slice(0, 2000),
  };
}

/** The account's status without the time stamps a re-check moves, to see if anything changed. */
const substance = (status: AccountStatus | undefined) => ({
  ...status,
  lastSyncTime: undefined,
});

/**
 * One account's reconcile: assume its access role, keep the SAML provider current, read the
 * roles the operator owns there, decide every pair from the permission sets and assignments
 * (pairs with a problem are frozen, see planAccountRoles), check what IAM would refuse half-way,
 * and apply only the difference. Steady state makes no IAM writes and no status write.
 */
export async function syncAccount(
  ctx: AccountSyncContext,
  { key, log }: ReconcileContext,
): Promise<ReconcileResult> {
  let account = ctx.accounts.informer.get(key);
  if (!account) return undefined;
  const written = ctx.statusWrittenFrom.get(key);
  if (
    written !== undefined &&
    written.basedOn === account.metadata.resourceVersion &&
    ctx.now().getTime() - written.at < CACHE_CATCH_UP_LIMIT_MS
  )
    return { requeueAfterMs: CACHE_CATCH_UP_MS };
  ctx.statusWrittenFrom.delete(key);
  const instance = currentInstance(ctx);
  if (account.metadata.deletionTimestamp) {
    await finalize(ctx, account, instance, log);
    return undefined;
  }
  account = await ctx.accounts.client.addFinalizer(account, ACCOUNT_FINALIZER);
  const duplicate = duplicateAccountProblem(account, ctx.accounts.informer.list());
  if (duplicate) {
    await writeStatus(ctx, account, account.status ?? {}, {
      type: "Ready",
      status: "False",
      ...duplicate,
    });
    return undefined; // the other object's deletion enqueues every account
  }
  const certificate = instance?.status?.signingCertificate;
  if (!instance || !certificate) {
    await writeStatus(ctx, account, account.status ?? {}, {
      type: "Ready",
      status: "False",
      reason: "WaitingForIdentityCenter",
      message: "no IdentityCenter with a signing certificate yet; the roles are kept as they are",
    });
    // The IdentityCenter's status change enqueues every account; the re-check is a safety net.
    return { requeueAfterMs: ctx.resyncMs };
  }
  const partition = instance.spec.aws.partition;
  const role = accessRole(account, partition);
  const gateway = gatewayFor(ctx, account, partition);
  const samlName = samlProviderName(instance.metadata.name);
  // The provider's ARN follows from its name: the plan need not wait for the provider.
  const samlProviderArn = iamArn(partition, account.spec.accountId, `saml-provider/${samlName}`);

  // Everything read before the first write is read at once (each branch waits only for its
  // own calls, so a throttled call's backoff holds up one branch, not the whole sequence):
  // the access check, the SAML provider, and the roles with what the preflight needs.
  const prepared = (async () => {
    const observed = await gateway.readOwnedRoles(instance.metadata.name);
    const permissionSets = ctx.permissionSets.informer.list();
    const plan = planAccountRoles({
      instance: {
        name: instance.metadata.name,
        partition,
        signInUrl: instance.spec.aws.signInUrl,
      },
      account,
      samlProviderArn,
      permissionSets,
      assignments: ctx.assignments.informer.list(),
      accounts: ctx.accounts.informer.list(),
      previous: account.status?.roles ?? [],
      ownedPermissionSets: observed.flatMap((r) => r.tags[TAG_PERMISSION_SET] ?? []),
    });
    const frozen = new Set(plan.pairs.filter((p) => p.holds).map((p) => p.permissionSet));
    const planned = diffRoles(plan.roles, observed, frozen);
    // What IAM would refuse half-way (a policy that does not exist, a quota) freezes the pair
    // before any write.
    const arns = referencedPolicyArns(planned);
    const [exists, quotas] = await Promise.all([
      mapLimit(arns, ctx.aws.concurrencyPerAccount, (arn) => gateway.policyExists(arn)),
      plansNeedQuotas(planned) ? gateway.quotas() : Promise.resolve({}),
    ]);
    const problems = preflightProblems(planned, observed, {
      accountId: account.spec.accountId,
      missingPolicies: new Set(arns.filter((_, i) => !exists[i])),
      ...quotas,
    });
    return { observed, permissionSets, plan, frozen, planned, problems };
  })();
  const samlRead = gateway.readSamlProvider(samlName);
  // Settled here, so a branch that fails while another decides the outcome is not unhandled.
  prepared.catch(() => undefined);
  samlRead.catch(() => undefined);

  const accessProblem = await checkAccess(ctx, account, role);
  if (accessProblem) {
    await writeStatus(ctx, account, account.status ?? {}, accessProblem);
    if (accessProblem.reason === "WrongAccount")
      throw new TerminalError(accessProblem.reason, accessProblem.message);
    throw new Error(accessProblem.message);
  }
  // The credentials land in this account: writes may start, the SAML provider first (every
  // role's trust names it), beside the preflight's last reads.
  const [ensuredArn, { observed, permissionSets, plan, frozen, planned, problems }] =
    await Promise.all([
      samlRead.then((current) =>
        gateway.ensureSamlProvider(
          samlName,
          idpMetadataXml(idpEndpoints(portalUrl(instance)), certificate),
          current,
        ),
      ),
      prepared,
    ]);
  if (ensuredArn !== samlProviderArn)
    throw new Error(`the SAML provider is ${ensuredArn}, expected ${samlProviderArn}`);
  const pairs = plan.pairs.map((p): PairDecision => {
    const problem = problems.get(p.permissionSet);
    if (!problem) return p;
    return {
      permissionSet: p.permissionSet,
      assignments: p.assignments,
      problem,
      holds: true,
    };
  });
  for (const ps of problems.keys()) frozen.add(ps);
  const plans = planned.filter(
    (p) => p.permissionSet === undefined || !frozen.has(p.permissionSet),
  );

  const writesBefore = gateway.writes;
  const outcomes = await applyPlans(gateway, plans, {
    concurrency: ctx.aws.concurrencyPerAccount,
    instance: instance.metadata.name,
    observed,
  });
  const writes = gateway.writes - writesBefore;
  const { roles, removals, retry } = report(
    {
      account,
      partition,
      generations: new Map(permissionSets.map((ps) => [ps.metadata.name, ps.metadata.generation])),
    },
    pairs,
    observed,
    { plans, outcomes },
  );
  if (plans.length > 0)
    log.info(
      {
        roles: plans.length,
        writes,
        failed: roles.filter((r) => r.state !== "Provisioned").length,
        removals: removals.length,
      },
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
  const next: AccountStatus = {
    ...account.status,
    samlProviderArn,
    managedRoles: observed.filter((r) => !deleted.has(r.roleName)).length + created,
    roles,
    removals,
  };
  const ready = readyCondition(roles, removals);
  const previous = account.status;
  const changed =
    writes > 0 ||
    !isDeepStrictEqual(substance(previous), {
      ...substance(next),
      observedGeneration: account.metadata.generation ?? 0,
      conditions: setCondition(previous?.conditions, ready, account.metadata.generation, ctx.now()),
    });
  // The time moves only when something changed, so a quiet re-check writes no status at all.
  if (changed) next.lastSyncTime = ctx.now().toISOString();
  await writeStatus(ctx, account, next, ready);
  if (retry) throw new Error("some roles are not provisioned or removed yet; retrying");
  return { requeueAfterMs: ctx.resyncMs };
}
