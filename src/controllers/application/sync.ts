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
