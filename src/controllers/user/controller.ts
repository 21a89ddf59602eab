import { Controller } from "../../runtime/controller.ts";
import { meaningfulUpdate } from "../../runtime/predicates.ts";
import type { OperatorContext } from "../context.ts";
import { syncUser } from "./sync.ts";

/**
 * The User controller. A user's status depends on other users (clashes) and on groups
 * (membership), so changes to those enqueue the users they affect.
 */
export function createUserController(ctx: OperatorContext, workers: number): Controller {
  const controller = new Controller({
    name: "user",
    log: ctx.log,
    metrics: ctx.metrics,
    workers,
    // A group's members are enqueued in the background: their status only lists groups, and
    // a bulk import of groups would otherwise hold every worker (and the API server's share
    // they get) while new users and groups wait to be Ready.
    backgroundWorkers: Math.max(1, Math.floor(workers / 4)),
    reconcile: (rc) => syncUser(ctx, rc),
  });
  const enqueueByUserName = (userName: string, background = false) => {
    for (const name of ctx.directory.usersWithUserName(userName))
      if (background) controller.enqueueBackground(name);
      else controller.enqueue(name);
  };
  const enqueueByEmail = (email: string) => {
    for (const name of ctx.directory.usersWithEmail(email)) controller.enqueue(name);
  };

  ctx.users.informer.onChange(({ type, object, old }) => {
    if (type === "update" && !meaningfulUpdate(old, object)) return;
    if (type !== "delete") controller.enqueue(object.metadata.name);
    // Clash partners, before and after: a fixed or new clash changes their status too.
    for (const u of [old, type === "delete" ? undefined : object]) {
      if (!u) continue;
      enqueueByUserName(u.spec.userName);
      enqueueByEmail(u.spec.email);
    }
  });
  ctx.groups.informer.onChange(({ type, object, old }) => {
    if (type === "update" && !meaningfulUpdate(old, object)) return;
    // Users who joined or left the group.
    const before = new Set(old?.spec.members ?? []);
    const after = new Set(type === "delete" ? [] : object.spec.members);
    for (const m of before) if (!after.has(m)) enqueueByUserName(m, true);
    for (const m of after) if (!before.has(m)) enqueueByUserName(m, true);
  });
  return controller;
}
