import type { User, UserStatus } from "../../api/v1alpha1/index.ts";
import { userValidity } from "../../identity/directory.ts";
import { findCondition, setCondition } from "../../runtime/conditions.ts";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.ts";
import type { OperatorContext } from "../context.ts";

/** Works out a user's status: unique or Duplicate, and the groups it belongs to. */
export function desiredUserStatus(ctx: OperatorContext, user: User): UserStatus {
  const condition = userValidity(user, ctx.directory);
  const groups = [...ctx.directory.groupsWithMember(user.spec.userName)].sort();
  return {
    ...user.status,
    observedGeneration: user.metadata.generation ?? 0,
    groups,
    conditions: setCondition(
      user.status?.conditions,
      condition,
      user.metadata.generation,
      ctx.now(),
    ),
  };
}

export async function syncUser(
  ctx: OperatorContext,
  { key, log }: ReconcileContext,
): Promise<ReconcileResult> {
  const user = ctx.users.informer.get(key);
  if (!user) return undefined; // deleted: nothing of ours to clean up
  const status = desiredUserStatus(ctx, user);
  const before = findCondition(user.status?.conditions, "Ready");
  const after = findCondition(status.conditions, "Ready");
  if (await ctx.users.client.updateStatus(user, status)) {
    log.debug({ ready: after?.status, reason: after?.reason }, "user status updated");
    if (after?.reason === "Duplicate" && before?.reason !== "Duplicate") {
      ctx.events.record(user, {
        type: "Warning",
        reason: "Duplicate",
        note: after.message,
        action: "Validate",
      });
    }
  }
  return undefined;
}
