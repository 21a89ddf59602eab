import type { Group, GroupStatus } from "../../api/v1alpha1/index.ts";
import { isValidUser, resolveGroup } from "../../identity/directory.ts";
import { findCondition, setCondition } from "../../runtime/conditions.ts";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.ts";
import type { OperatorContext } from "../context.ts";

export function desiredGroupStatus(ctx: OperatorContext, group: Group): GroupStatus {
  const isValid = (name: string) => {
    const user = ctx.users.informer.get(name);
    return user !== undefined && isValidUser(user, ctx.directory);
  };
  const resolved = resolveGroup(group, ctx.directory, isValid);
  return {
    ...group.status,
    observedGeneration: group.metadata.generation ?? 0,
    members: resolved.members,
    unknownMembers: resolved.unknownMembers,
    conditions: setCondition(
      group.status?.conditions,
      resolved.condition,
      group.metadata.generation,
      ctx.now(),
    ),
  };
}

export async function syncGroup(
  ctx: OperatorContext,
  { key, log }: ReconcileContext,
): Promise<ReconcileResult> {
  const group = ctx.groups.informer.get(key);
  if (!group) return undefined;
  const status = desiredGroupStatus(ctx, group);
  const before = findCondition(group.status?.conditions, "Ready");
  const after = findCondition(status.conditions, "Ready");
  if (await ctx.groups.client.updateStatus(group, status)) {
    log.debug(
      { members: status.members, unknown: status.unknownMembers?.length },
      "group status updated",
    );
    if (after?.reason === "UnknownMembers" && before?.reason !== "UnknownMembers") {
      ctx.events.record(group, {
        type: "Warning",
        reason: "UnknownMembers",
        note: after.message,
        action: "Resolve",
      });
    }
  }
  return undefined;
}
