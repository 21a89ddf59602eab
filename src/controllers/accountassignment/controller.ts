import { assignmentTargets } from "../../plan/desired-roles.ts";
import { Controller } from "../../runtime/controller.ts";
import { changedRows } from "../../plan/provisioning.ts";
import { meaningfulUpdate } from "../../runtime/predicates.ts";
import { accountRowsPacer } from "../../runtime/status-pacer.ts";
import type { OperatorContext } from "../context.ts";
import { syncAccountAssignment } from "./sync.ts";

/** Reports each assignment's per-account state; accounts, permission sets and principals map in. */
export function createAccountAssignmentController(
  ctx: OperatorContext,
  workers: number,
): Controller {
  // A row per targeted account: progress is reported paced (see StatusPacer).
  const pacer = accountRowsPacer();
  const controller = new Controller({
    name: "accountassignment",
    log: ctx.log,
    metrics: ctx.metrics,
    workers,
    reconcile: (rc) => syncAccountAssignment(ctx, pacer, rc),
  });
  const enqueueWhere = (match: (a: Parameters<typeof assignmentTargets>[0]) => boolean) => {
    for (const a of ctx.assignments.informer.list())
      if (match(a)) controller.enqueue(a.metadata.name);
  };
  ctx.assignments.informer.onChange(({ type, object, old }) => {
    if (type === "delete") pacer.forget(object.metadata.name);
    if (type === "delete" || !meaningfulUpdate(old, object)) return;
    controller.enqueue(object.metadata.name);
  });
  ctx.accounts.informer.onChange(({ type, object, old }) => {
    // Which assignments an account is relevant to changes with its labels and existence; what
    // they report changes only with the account's row of their permission set.
    const relevant =
      type !== "update" || meaningfulUpdate(old, object)
        ? undefined
        : new Set(changedRows(object, old));
    if (relevant?.size === 0) return;
    enqueueWhere(
      (a) =>
        (relevant === undefined || relevant.has(a.spec.permissionSet)) &&
        (assignmentTargets(a, object) ||
          (old !== undefined && assignmentTargets(a, old)) ||
          // an assignment naming an account that does not exist (yet) resolves when it appears
          (a.spec.accounts ?? []).some(
            (ref) => ref === object.metadata.name || ref === object.spec.accountId,
          )),
    );
  });
  ctx.permissionSets.informer.onChange(({ type, object, old }) => {
    if (type === "update" && !meaningfulUpdate(old, object)) return;
    enqueueWhere((a) => a.spec.permissionSet === object.metadata.name);
  });
  ctx.users.informer.onChange(({ type, object, old }) => {
    if (type === "update" && !meaningfulUpdate(old, object)) return;
    const names = new Set([object.spec.userName, old?.spec.userName]);
    enqueueWhere((a) => a.spec.principal.kind === "User" && names.has(a.spec.principal.name));
  });
  ctx.groups.informer.onChange(({ type, object, old }) => {
    if (type === "update" && !meaningfulUpdate(old, object)) return;
    enqueueWhere(
      (a) => a.spec.principal.kind === "Group" && a.spec.principal.name === object.metadata.name,
    );
  });
  return controller;
}
