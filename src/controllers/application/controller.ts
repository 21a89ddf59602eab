import { Controller } from "../../runtime/controller.ts";
import { meaningfulUpdate } from "../../runtime/predicates.ts";
import type { OperatorContext } from "../context.ts";
import { syncApplication } from "./sync.ts";

/** Applications: status only (the IdP's URLs); sign-in happens in the portal. */
export function createApplicationController(ctx: OperatorContext, workers: number): Controller {
  const apps = new Controller({
    name: "application",
    log: ctx.log,
    metrics: ctx.metrics,
    workers,
    reconcile: (rc) => syncApplication(ctx, rc),
  });
  ctx.applications.informer.onChange(({ type, object, old }) => {
    if (type !== "delete" && meaningfulUpdate(old, object)) apps.enqueue(object.metadata.name);
  });
  ctx.identityCenters.informer.onChange(() => {
    for (const app of ctx.applications.informer.list()) apps.enqueue(app.metadata.name);
  });
  return apps;
}
