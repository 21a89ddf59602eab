import { Controller } from "../../runtime/controller.ts";
import { meaningfulUpdate } from "../../runtime/predicates.ts";
import type { OperatorContext } from "../context.ts";
import { syncGroup } from "./sync.ts";

/**
 * The Group controller. A group's resolution depends on users, so a user appearing,
 * disappearing or starting/stopping to clash enqueues the groups that name it.
 */
export function createGroupController(ctx: OperatorContext, workers: number): Controller {
  const controller = new Controller({
    name: "group",
    log: ctx.log,
    metrics: ctx.metrics,
    workers,
    reconcile: (rc) => syncGroup(ctx, rc),
  });
  ctx.groups.informer.onChange(({ type, object, old }) => {
    if (type === "delete" || !meaningfulUpdate(old, object)) return;
    controller.enqueue(object.metadata.name);
  });
  ctx.users.informer.onChange(({ type, object, old }) => {
    if (type === "update" && !meaningfulUpdate(old, object)) return;
    // Groups naming this user, and groups naming users it clashes or stops clashing with.
    const userNames = new Set<string>();
    for (const u of [old, object]) {
      if (!u) continue;
      userNames.add(u.spec.userName);
      for (const other of ctx.directory.usersWithEmail(u.spec.email)) {
        const o = ctx.users.informer.get(other);
        if (o) userNames.add(o.spec.userName);
      }
    }
    for (const userName of userNames) {
      for (const g of ctx.directory.groupsWithMember(userName)) controller.enqueue(g);
    }
  });
  return controller;
}
