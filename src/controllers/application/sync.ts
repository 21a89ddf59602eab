import { setCondition, type ConditionInput } from "../../runtime/conditions.ts";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.ts";
import { ROTATE_SIGNING_KEY_ANNOTATION, type Application } from "../../api/v1alpha1/index.ts";
import { readKeyMaterial } from "../../adapters/k8s/application-signing-secrets.ts";
import { awsSignInClaims } from "../../saml/aws-sign-in.ts";
import { applicationEndpoints, idpEndpoints } from "../../saml/metadata.ts";
import {
  certificateFingerprint,
  certificateNotAfter,
  createSigningIdentity,
} from "../../saml/signing-identity.ts";
import { currentInstance } from "../../adapters/k8s/stores.ts";
import type { OperatorContext } from "../context.ts";
import { applicationSigningSecretName, portalUrl } from "../../plan/naming.ts";

/** The other live Applications that claim the same entity id, by name. */
export function entityIdRivals(app: Application, all: readonly Application[]): string[] {
  return all
    .filter(
      (other) =>
        other.metadata.name !== app.metadata.name &&
        !other.metadata.deletionTimestamp &&
        other.spec.entityId === app.spec.entityId,
    )
    .map((other) => other.metadata.name)
    .sort();
}

/**
 * The Application's own signing key, made in its Secret when missing, when the Secret belongs to
 * an earlier Application of the same name, or when the rotation annotation asks for a new one.
 * Returns the certificate the portal signs this application's assertions with.
 */
async function ensureApplicationKey(ctx: OperatorContext, app: Application): Promise<string> {
  const name = applicationSigningSecretName(app.metadata.name);
  const secret = ctx.applicationSigningSecrets.get(name);
  const current = readKeyMaterial(secret);
  const rotation = app.metadata.annotations?.[ROTATE_SIGNING_KEY_ANNOTATION] ?? "";
  const uid = app.metadata.uid ?? "";
  if (
    current &&
    current.application.name === app.metadata.name &&
    current.application.uid === uid &&
    current.rotation === rotation
  )
    return current.certificatePem;
  const identity = createSigningIdentity(`${app.metadata.name} SAML signing`, ctx.now());
  await ctx.applicationSigningSecrets.write(
    name,
    {
      application: { name: app.metadata.name, uid },
      certificatePem: identity.certificatePem,
      privateKeyPem: identity.privateKeyPem,
      rotation,
    },
    secret,
  );
  const rolled = current !== undefined;
  ctx.events.record(app, {
    type: "Normal",
    reason: rolled ? "SigningKeyRotated" : "SigningKeyCreated",
    note: `${rolled ? "rotated" : "created"} the application's signing key in Secret ${ctx.namespace}/${name} (certificate ${certificateFingerprint(identity.certificatePem)})`,
    action: rolled ? "RotateSigningKey" : "CreateSigningKey",
  });
  return identity.certificatePem;
}

/**
 * An application is Ready once it has its own signing key and the IdP it trusts exists. One
 * that would impersonate AWS sign-in (stored before the CRD refused it) gets no key and is
 * refused; two that claim one entity id are both reported, since the portal cannot tell which
 * one an AuthnRequest comes from.
 */
export async function syncApplication(
  ctx: OperatorContext,
  { key }: ReconcileContext,
): Promise<ReconcileResult> {
  const app = ctx.applications.informer.get(key);
  if (!app) {
    // Deleted: its key goes with it (the garbage collector would too, through the owner).
    const name = applicationSigningSecretName(key);
    if (ctx.applicationSigningSecrets.get(name)) await ctx.applicationSigningSecrets.delete(name);
    return undefined;
  }
  if (app.metadata.deletionTimestamp) return undefined;
  const generation = app.metadata.generation;
  const base = { observedGeneration: generation ?? 0 };
  const claims = awsSignInClaims(app.spec);
  if (claims.length > 0) {
    const ready: ConditionInput = {
      type: "Ready",
      status: "False",
      reason: "ImpersonatesAwsSignIn",
      message: `refused: ${claims.map((c) => `${c.field} ${c.message}`).join("; ")}. AWS accounts are opened through AccountAssignments, signed with the instance key; no Application is signed for AWS sign-in`,
    };
    await ctx.applications.client.updateStatus(app, {
      ...base,
      conditions: setCondition(app.status?.conditions, ready, generation, ctx.now()),
    });
    return undefined;
  }
  const certificatePem = await ensureApplicationKey(ctx, app);
  const instance = currentInstance(ctx);
  const endpoints = instance
    ? applicationEndpoints(idpEndpoints(portalUrl(instance)), app.metadata.name)
    : undefined;
  const rivals = entityIdRivals(app, ctx.applications.informer.list());
  const ready: ConditionInput =
    rivals.length > 0
      ? {
          type: "Ready",
          status: "False",
          reason: "EntityIdConflict",
          message: `entity id ${app.spec.entityId} is also claimed by Application ${rivals.join(", ")}: the portal refuses SP-initiated sign-ins from an ambiguous issuer; give each application its own entity id`,
        }
      : endpoints
        ? {
            type: "Ready",
            status: "True",
            reason: "Configured",
            message: `configure the service provider with this application's IdP metadata at ${endpoints.metadataUrl}`,
          }
        : {
            type: "Ready",
            status: "False",
            reason: "WaitingForIdentityCenter",
            message: "no IdentityCenter exists yet",
          };
  await ctx.applications.client.updateStatus(app, {
    ...base,
    ...(endpoints ?? {}),
    signingCertificate: certificatePem,
    signingCertificateFingerprint: certificateFingerprint(certificatePem),
    signingCertificateNotAfter: certificateNotAfter(certificatePem).toISOString(),
    conditions: setCondition(app.status?.conditions, ready, generation, ctx.now()),
  });
  return undefined;
}
