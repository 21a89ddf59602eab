import { Controller } from "../../runtime/controller.ts";
import { meaningfulUpdate } from "../../runtime/predicates.ts";
import type { OperatorContext } from "../context.ts";
import { syncIdentityCenter } from "./sync.ts";

export function createIdentityCenterController(ctx: OperatorContext, workers: number): Controller {
  const controller = new Controller({
    name: "identitycenter",
    log: ctx.log,
    metrics: ctx.metrics,
    workers,
    reconcile: (rc) => syncIdentityCenter(ctx, rc),
  });
  ctx.identityCenters.informer.onChange(({ type, object, old }) => {
    if (type === "delete" || !meaningfulUpdate(old, object)) return;
    controller.enqueue(object.metadata.name);
  });
  // A deleted signing Secret is a key rotation: the instance makes a new one at once.
  ctx.instanceSigningSecrets.onChange((instance) => {
    controller.enqueue(instance);
  });
  // The portal may read each Application's signing Secret by name: one more or one fewer
  // Application changes every portal's Role.
  ctx.applications.informer.onChange(({ type }) => {
    if (type === "update") return;
    for (const ic of ctx.identityCenters.informer.list()) controller.enqueue(ic.metadata.name);
  });
  // A changed or deleted portal object (a hand edit, a Deployment's ready count) is put back
  // in shape and reported on the instance.
  ctx.portal?.objects.onChange((instance) => {
    controller.enqueue(instance);
  });
  return controller;
}
