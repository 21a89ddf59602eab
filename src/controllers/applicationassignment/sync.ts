import type { Application, ApplicationAssignment } from "../../api/v1alpha1/index.ts";
import { principalProblem } from "../../identity/directory.ts";
import { setCondition, type ConditionInput } from "../../runtime/conditions.ts";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.ts";
import type { OperatorContext } from "../context.ts";

/** An assignment is Ready when its application and its principal both exist. */
export async function syncApplicationAssignment(
  ctx: OperatorContext,
  { key }: ReconcileContext,
): Promise<ReconcileResult> {
  const assignment: ApplicationAssignment | undefined =
    ctx.applicationAssignments.informer.get(key);
  if (!assignment) return undefined;
  const app: Application | undefined = ctx.applications.informer.get(assignment.spec.application);
  const principal = principalProblem(ctx, assignment.spec.principal);
  const ready: ConditionInput = !app
    ? {
        type: "Ready",
        status: "False",
        reason: "ApplicationNotFound",
        message: `Application "${assignment.spec.application}" does not exist`,
      }
    : principal
      ? { type: "Ready", status: "False", reason: "PrincipalNotFound", message: principal }
      : {
          type: "Ready",
          status: "True",
          reason: "Assigned",
          message: `${assignment.spec.principal.kind} ${assignment.spec.principal.name} may sign in to ${app.spec.displayName}`,
        };
  await ctx.applicationAssignments.client.updateStatus(assignment, {
    ...assignment.status,
    observedGeneration: assignment.metadata.generation ?? 0,
    conditions: setCondition(
      assignment.status?.conditions,
      ready,
      assignment.metadata.generation,
      ctx.now(),
    ),
  });
  return undefined;
}
