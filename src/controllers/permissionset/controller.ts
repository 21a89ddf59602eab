import { Controller } from "../../runtime/controller.ts";
import { changedRows } from "../../plan/provisioning.ts";
import { meaningfulUpdate } from "../../runtime/predicates.ts";
import { accountRowsPacer } from "../../runtime/status-pacer.ts";
import type { OperatorContext } from "../context.ts";
import { syncPermissionSet } from "./sync.ts";

/** Reports each permission set's roles; Account status changes enqueue the sets they name. */
export function createPermissionSetController(ctx: OperatorContext, workers: number): Controller {
  // A row per account: progress is reported paced, so 250 accounts do not mean 250 rewrites.
  const pacer = accountRowsPacer();
  const controller = new Controller({
    name: "permissionset",
    log: ctx.log,
    metrics: ctx.metrics,
    workers,
    reconcile: (rc) => syncPermissionSet(ctx, pacer, rc),
  });
  ctx.permissionSets.informer.onChange(({ type, object, old }) => {
    if (type === "delete") pacer.forget(object.metadata.name);
    if (type === "delete" || !meaningfulUpdate(old, object)) return;
    controller.enqueue(object.metadata.name);
  });
  // Only the sets whose row in the account changed: an Account status write that leaves a
  // set's row as it was cannot change that set's status.
  ctx.accounts.informer.onChange(({ type, object, old }) => {
    for (const name of changedRows(type === "delete" ? undefined : object, old))
      controller.enqueue(name);
  });
  return controller;
}
