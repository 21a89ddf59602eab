import { assignmentTargets } from "../../plan/desired-roles.ts";
import { Controller } from "../../runtime/controller.ts";
import { meaningfulUpdate } from "../../runtime/predicates.ts";
import type { OperatorContext } from "../context.ts";
import { syncAccount, type AccountSyncContext } from "./sync.ts";

/**
 * The Account controller: the unit of AWS work is one account. Permission set, assignment and
 * instance changes enqueue the accounts they affect; users and groups never do.
 */
export function createAccountController(ctx: OperatorContext, workers: number): Controller {
  const syncContext: AccountSyncContext = { ...ctx, statusWrittenFrom: new Map() };
  const controller = new Controller({
    name: "account",
    log: ctx.log,
    metrics: ctx.metrics,
    workers,
    reconcile: (rc) => syncAccount(syncContext, rc),
  });
  const enqueueTargetsOf = (permissionSet: string) => {
    const assignments = ctx.assignments.informer
      .list()
      .filter((a) => a.spec.permissionSet === permissionSet);
    for (const account of ctx.accounts.informer.list()) {
      if (assignments.some((a) => assignmentTargets(a, account)))
        controller.enqueue(account.metadata.name);
    }
  };
  const enqueueAll = () => {
    for (const account of ctx.accounts.informer.list()) controller.enqueue(account.metadata.name);
  };
  ctx.accounts.informer.onChange(({ type, object, old }) => {
    // An Account that appears or goes can make an assignment that names it valid or broken,
    // and settles which of two objects for one AWS account is in charge: every account looks.
    if (type !== "update") {
      enqueueAll();
      return;
    }
    if (meaningfulUpdate(old, object)) controller.enqueue(object.metadata.name);
  });
  ctx.permissionSets.informer.onChange(({ type, object, old }) => {
    if (type === "update" && !meaningfulUpdate(old, object)) return;
    enqueueTargetsOf(object.metadata.name);
  });
  ctx.assignments.informer.onChange(({ type, object, old }) => {
    if (type === "update" && !meaningfulUpdate(old, object)) return;
    for (const account of ctx.accounts.informer.list()) {
      const before = old ? assignmentTargets(old, account) : false;
      const after = type !== "delete" && assignmentTargets(object, account);
      if (before || after) controller.enqueue(account.metadata.name);
    }
  });
  ctx.identityCenters.informer.onChange(({ type, object, old }) => {
    // The instance's existence, signing certificate (status) and sign-in settings (spec) shape
    // every account.
    if (
      type !== "update" ||
      old?.status?.signingCertificate !== object.status?.signingCertificate ||
      meaningfulUpdate(old, object)
    )
      enqueueAll();
  });
  return controller;
}
