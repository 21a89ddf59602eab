import { ROTATE_SIGNING_KEY_ANNOTATION, type Application } from "../../api/v1alpha1/index.ts";
import { APPLICATION_ANNOTATION } from "../../adapters/k8s/application-signing-secrets.ts";
import { Controller } from "../../runtime/controller.ts";
import { meaningfulUpdate } from "../../runtime/predicates.ts";
import type { OperatorContext } from "../context.ts";
import { syncApplication } from "./sync.ts";

/** Applications: each one's own signing key and status; sign-in happens in the portal. */
export function createApplicationController(ctx: OperatorContext, workers: number): Controller {
  const apps = new Controller({
    name: "application",
    log: ctx.log,
    metrics: ctx.metrics,
    workers,
    reconcile: (rc) => syncApplication(ctx, rc),
  });
  const rotation = (app: Application | undefined) =>
    app?.metadata.annotations?.[ROTATE_SIGNING_KEY_ANNOTATION];
  ctx.applications.informer.onChange(({ type, object, old }) => {
    // A deletion is reconciled too (its key goes), and so is a rotation request (an annotation).
    if (type === "delete" || meaningfulUpdate(old, object) || rotation(old) !== rotation(object))
      apps.enqueue(object.metadata.name);
    // Entity ids must be unique: the Applications that share the old or the new one re-check.
    const entityIds = new Set([object.spec.entityId, old?.spec.entityId]);
    for (const other of ctx.applications.informer.list())
      if (entityIds.has(other.spec.entityId)) apps.enqueue(other.metadata.name);
  });
  // A deleted or edited key Secret is made again (deleting the Secret is a way to rotate).
  ctx.applicationSigningSecrets.informer.onChange(({ object }) => {
    const application = object.metadata?.annotations?.[APPLICATION_ANNOTATION];
    if (application) apps.enqueue(application);
  });
  ctx.identityCenters.informer.onChange(() => {
    for (const app of ctx.applications.informer.list()) apps.enqueue(app.metadata.name);
  });
  return apps;
}
