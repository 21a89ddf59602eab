import { assignmentTargets } from "../../plan/desired-roles.ts";
import { Controller } from "../../runtime/controller.ts";
import { meaningfulUpdate } from "../../runtime/predicates.ts";
import type { OperatorContext } from "../context.ts";
import { syncAccountAssignment } from "./sync.ts";

/** Reports each assignment's per-account state; accounts, permission sets and principals map in. */
export function createAccountAssignmentController(
  ctx: OperatorContext,
  workers: number,
): Controller {
  const controller = new Controller({
    name: "accountassignment",
    log: ctx.log,
    metrics: ctx.metrics,
    workers,
    reconcile: (rc) => syncAccountAssignment(ctx, rc),
  });
  const enqueueWhere = (match: (a: Parameters<typeof assignmentTargets>[0]) => boolean) => {
    for (const a of ctx.assignments.informer.list())
      if (match(a)) controller.enqueue(a.metadata.name);
  };
  ctx.assignments.informer.onChange(({ type, object, old }) => {
    if (type === "delete" || !meaningfulUpdate(old, object)) return;
    controller.enqueue(object.metadata.name);
  });
  ctx.accounts.informer.onChange(({ object, old }) => {
    enqueueWhere(
      (a) => assignmentTargets(a, object) || (old !== undefined && assignmentTargets(a, old)),
    );
  });
  ctx.permissionSets.informer.onChange(({ object }) => {
    enqueueWhere((a) => a.spec.permissionSet === object.metadata.name);
  });
  ctx.users.informer.onChange(({ object, old }) => {
    const names = new Set([object.spec.userName, old?.spec.userName]);
    enqueueWhere((a) => a.spec.principal.kind === "User" && names.has(a.spec.principal.name));
  });
  ctx.groups.informer.onChange(({ object }) => {
    enqueueWhere(
      (a) => a.spec.principal.kind === "Group" && a.spec.principal.name === object.metadata.name,
    );
  });
  return controller;
}
