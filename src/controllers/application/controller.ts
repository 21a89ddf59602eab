import { Controller } from "../../runtime/controller.ts";
import { meaningfulUpdate } from "../../runtime/predicates.ts";
import type { OperatorContext } from "../context.ts";
import { syncApplication, syncApplicationAssignment } from "./sync.ts";

/** Applications and their assignments: status only; sign-in happens in the portal. */
export function createApplicationControllers(ctx: OperatorContext, workers: number): Controller[] {
  const apps = new Controller({
    name: "application",
    log: ctx.log,
    metrics: ctx.metrics,
    workers,
    reconcile: (rc) => syncApplication(ctx, rc),
  });
  const assignments = new Controller({
    name: "applicationassignment",
    log: ctx.log,
    metrics: ctx.metrics,
    workers,
    reconcile: (rc) => syncApplicationAssignment(ctx, rc),
  });
  const enqueueAssignments = (
    match: (a: {
      spec: { application: string; principal: { kind: string; name: string } };
    }) => boolean,
  ) => {
    for (const a of ctx.applicationAssignments.informer.list())
      if (match(a)) assignments.enqueue(a.metadata.name);
  };
  ctx.applications.informer.onChange(({ type, object, old }) => {
    if (type !== "delete" && meaningfulUpdate(old, object)) apps.enqueue(object.metadata.name);
    if (type !== "update") enqueueAssignments((a) => a.spec.application === object.metadata.name);
  });
  ctx.applicationAssignments.informer.onChange(({ type, object, old }) => {
    if (type !== "delete" && meaningfulUpdate(old, object))
      assignments.enqueue(object.metadata.name);
  });
  ctx.identityCenters.informer.onChange(() => {
    for (const app of ctx.applications.informer.list()) apps.enqueue(app.metadata.name);
  });
  ctx.users.informer.onChange(({ object, old }) => {
    const names = new Set([object.spec.userName, old?.spec.userName]);
    enqueueAssignments((a) => a.spec.principal.kind === "User" && names.has(a.spec.principal.name));
  });
  ctx.groups.informer.onChange(({ type, object }) => {
    if (type !== "update")
      enqueueAssignments(
        (a) => a.spec.principal.kind === "Group" && a.spec.principal.name === object.metadata.name,
      );
  });
  return [apps, assignments];
}
