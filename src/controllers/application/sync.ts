import type { Application, ApplicationAssignment } from "../../api/v1alpha1/index.ts";
import { principalProblem } from "../../identity/directory.ts";
import { setCondition, type ConditionInput } from "../../runtime/conditions.ts";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.ts";
import { idpEndpoints } from "../../saml/metadata.ts";
import { currentInstance } from "../../adapters/k8s/stores.ts";
import type { OperatorContext } from "../context.ts";
import { portalUrl } from "../../plan/naming.ts";

/** An application is Ready once the IdP it trusts exists: its metadata and sign-in URLs. */
export async function syncApplication(
  ctx: OperatorContext,
  { key }: ReconcileContext,
): Promise<ReconcileResult> {
  const app = ctx.applications.informer.get(key);
  if (!app) return undefined;
  const instance = currentInstance(ctx);
  const endpoints = instance ? idpEndpoints(portalUrl(instance)) : undefined;
  const ready: ConditionInput = endpoints
    ? {
        type: "Ready",
        status: "True",
        reason: "Configured",
        message: `configure the service provider with the IdP metadata at ${endpoints.metadataUrl}`,
      }
    : {
        type: "Ready",
        status: "False",
        reason: "WaitingForIdentityCenter",
        message: "no IdentityCenter exists yet",
      };
  await ctx.applications.client.updateStatus(app, {
    ...app.status,
    observedGeneration: app.metadata.generation ?? 0,
    ...(endpoints
      ? {
          metadataUrl: endpoints.metadataUrl,
          signInUrl: `${endpoints.portalUrl}/applications/${app.metadata.name}`,
        }
      : {}),
    conditions: setCondition(app.status?.conditions, ready, app.metadata.generation, ctx.now()),
  });
  return undefined;
}

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
