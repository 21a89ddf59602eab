import { Controller } from "../../runtime/controller.ts";
import { meaningfulUpdate } from "../../runtime/predicates.ts";
import type { OperatorContext } from "../context.ts";
import { syncPermissionSet } from "./sync.ts";

/** Reports each permission set's roles; Account status changes enqueue the sets they name. */
export function createPermissionSetController(ctx: OperatorContext, workers: number): Controller {
  const controller = new Controller({
    name: "permissionset",
    log: ctx.log,
    metrics: ctx.metrics,
    workers,
    reconcile: (rc) => syncPermissionSet(ctx, rc),
  });
  ctx.permissionSets.informer.onChange(({ type, object, old }) => {
    if (type === "delete" || !meaningfulUpdate(old, object)) return;
    controller.enqueue(object.metadata.name);
  });
  ctx.accounts.informer.onChange(({ object, old }) => {
    const names = new Set(
      [...(old?.status?.roles ?? []), ...(object.status?.roles ?? [])].map((r) => r.permissionSet),
    );
    for (const name of names) controller.enqueue(name);
  });
  return controller;
}
