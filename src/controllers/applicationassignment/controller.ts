import type { ApplicationAssignment } from "../../api/v1alpha1/index.ts";
import { Controller } from "../../runtime/controller.ts";
import { meaningfulUpdate } from "../../runtime/predicates.ts";
import type { OperatorContext } from "../context.ts";
import { syncApplicationAssignment } from "./sync.ts";

/** Application assignments: status only; the portal decides who may sign in from the caches. */
export function createApplicationAssignmentController(
  ctx: OperatorContext,
  workers: number,
): Controller {
  const assignments = new Controller({
    name: "applicationassignment",
    log: ctx.log,
    metrics: ctx.metrics,
    workers,
    reconcile: (rc) => syncApplicationAssignment(ctx, rc),
  });
  const enqueueAssignments = (match: (a: ApplicationAssignment) => boolean) => {
    for (const a of ctx.applicationAssignments.informer.list())
      if (match(a)) assignments.enqueue(a.metadata.name);
  };
  ctx.applicationAssignments.informer.onChange(({ type, object, old }) => {
    if (type !== "delete" && meaningfulUpdate(old, object))
      assignments.enqueue(object.metadata.name);
  });
  // An application appearing or going away changes whether its assignments are Ready.
  ctx.applications.informer.onChange(({ type, object }) => {
    if (type !== "update") enqueueAssignments((a) => a.spec.application === object.metadata.name);
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
  return assignments;
}
