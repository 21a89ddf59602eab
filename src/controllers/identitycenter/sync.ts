import { randomBytes } from "node:crypto";
import { CoreV1Api, type V1Secret } from "@kubernetes/client-node";
import type { IdentityCenter, IdentityCenterStatus } from "../../api/v1alpha1/index.ts";
import { setCondition, type ConditionInput } from "../../runtime/conditions.ts";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.ts";
import { idpEndpoints } from "../../saml/metadata.ts";
import {
  certificateFingerprint,
  certificateNotAfter,
  createSigningIdentity,
} from "../../saml/signing-identity.ts";
import type { OperatorContext } from "../context.ts";
import { apiErrorMessage, apiStatusCode } from "../../runtime/api-errors.ts";
import {
  desiredPortalObjects,
  portalName,
  portalReadableSecrets,
} from "../../plan/portal-workload.ts";
import {
  applicationSigningSecretName,
  INSTANCE_KEY,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  portalUrl,
  sessionSecretName,
  signingSecretName,
} from "../../plan/naming.ts";
import {
  scimBaseUrl,
  ssoEndpoints,
  upstreamOidcRedirectUri,
  upstreamSamlEndpoints,
} from "../../plan/sso-endpoints.ts";
import { IDENTITY_SOURCE_CONDITION, syncUpstreamSaml } from "./upstream-saml.ts";

/** A Secret of the operator's namespace by name, or undefined when there is none. */
async function readSecret(core: CoreV1Api, namespace: string, name: string) {
  try {
    return await core.readNamespacedSecret({ name, namespace });
  } catch (err) {
    if (apiStatusCode(err) !== 404) throw err;
    return undefined;
  }
}

/**
 * Creates one of the instance's Secrets (labelled with the instance it belongs to). Returns false
 * when a Secret of that name was made in between (by another replica, or an earlier portal): the
 * caller keeps that one rather than replacing a key something may already use.
 */
async function createInstanceSecret(
  ctx: OperatorContext,
  ic: IdentityCenter,
  secret: { name: string; type: string; stringData: Record<string, string> },
): Promise<boolean> {
  const core = ctx.kubeConfig.makeApiClient(CoreV1Api);
  try {
    await core.createNamespacedSecret({
      namespace: ctx.namespace,
      body: {
        metadata: {
          name: secret.name,
          namespace: ctx.namespace,
          labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [INSTANCE_KEY]: ic.metadata.name },
        },
        type: secret.type,
        stringData: secret.stringData,
      },
    });
    return true;
  } catch (err) {
    if (apiStatusCode(err) !== 409) throw err;
    return false;
  }
}

/**
 * The instance's signing key and certificate, created once in a Secret of the operator's
 * namespace and never replaced by the controller (rotation is a deliberate act: delete the
 * Secret). Returns the certificate PEM.
 */
async function ensureSigningSecret(ctx: OperatorContext, ic: IdentityCenter): Promise<string> {
  const core = ctx.kubeConfig.makeApiClient(CoreV1Api);
  const name = signingSecretName(ic.metadata.name);
  const certificateOf = (secret: V1Secret | undefined) => {
    const pem = secret?.data?.["tls.crt"];
    return pem ? Buffer.from(pem, "base64").toString("utf8") : undefined;
  };
  // The cache answers; the API server is asked only when the cache has no Secret.
  const existing =
    certificateOf(ctx.instanceSigningSecrets.get(name)) ??
    certificateOf(await readSecret(core, ctx.namespace, name));
  if (existing) return existing;
  const identity = createSigningIdentity(`${ic.spec.portal.hostname} SAML signing`, ctx.now());
  const created = await createInstanceSecret(ctx, ic, {
    name,
    type: "kubernetes.io/tls",
    stringData: { "tls.crt": identity.certificatePem, "tls.key": identity.privateKeyPem },
  });
  if (!created) {
    const other = certificateOf(await readSecret(core, ctx.namespace, name));
    if (other) return other;
    throw new Error(`Secret ${ctx.namespace}/${name} exists but holds no tls.crt`);
  }
  ctx.events.record(ic, {
    type: "Normal",
    reason: "SigningKeyCreated",
    note: `created signing key and certificate in Secret ${ctx.namespace}/${name}`,
    action: "CreateSigningKey",
  });
  return identity.certificatePem;
}

/**
 * The key that seals the instance's session cookies (32 random bytes, base64 under `key`),
 * created once. The controller makes it so the portal needs no right to create Secrets in the
 * operator namespace; a Secret an earlier portal made has the same name and shape and is kept.
 */
async function ensureSessionSecret(ctx: OperatorContext, ic: IdentityCenter): Promise<void> {
  const core = ctx.kubeConfig.makeApiClient(CoreV1Api);
  const name = sessionSecretName(ic.metadata.name);
  if (await readSecret(core, ctx.namespace, name)) return;
  await createInstanceSecret(ctx, ic, {
    name,
    type: "Opaque",
    stringData: { key: randomBytes(32).toString("base64") },
  });
}

/** The Ready condition and replica count, from the portal Deployment the cache holds. */
async function syncPortal(
  ctx: OperatorContext,
  ic: IdentityCenter,
  certificatePem: string,
): Promise<{ ready: ConditionInput; readyReplicas?: number }> {
  const portal = ctx.portal;
  if (!portal) {
    return {
      ready: {
        type: "Ready",
        status: "True",
        reason: "SigningKeyReady",
        message: "the SAML signing identity is ready and published; the portal runs elsewhere",
      },
    };
  }
  const image = ic.spec.portal.image ?? portal.image;
  if (!image) {
    return {
      ready: {
        type: "Ready",
        status: "False",
        reason: "NoPortalImage",
        message: "set spec.portal.image, or run the controller with --portal-image",
      },
    };
  }
  const desired = desiredPortalObjects(ic, {
    namespace: ctx.namespace,
    defaultImage: image,
    credentialsNamespace: ctx.credentialsNamespace,
    readableSecrets: portalReadableSecrets(
      ic.metadata.name,
      ctx.applications.informer.list().map((a) => applicationSigningSecretName(a.metadata.name)),
      ic.spec.identitySource.type === "oidc" && ic.spec.identitySource.oidc
        ? [ic.spec.identitySource.oidc.clientSecret.name]
        : [],
    ),
    signingFingerprint: certificateFingerprint(certificatePem),
  });
  try {
    await portal.objects.reconcile(ic.metadata.name, desired);
  } catch (err) {
    // Reported on the object and retried with backoff; nothing already running is removed.
    ctx.events.record(ic, {
      type: "Warning",
      reason: "PortalApplyFailed",
      note: apiErrorMessage(err),
      action: "ApplyPortal",
    });
    throw err;
  }
  const deployment = portal.objects.deployment(ic.metadata.name);
  const readyReplicas = deployment?.status?.readyReplicas ?? 0;
  const counts = `${String(readyReplicas)}/${String(ic.spec.portal.replicas)} portal replicas ready`;
  const where = `Deployment ${ctx.namespace}/${portalName(ic.metadata.name)}`;
  return {
    readyReplicas,
    ready:
      readyReplicas > 0
        ? { type: "Ready", status: "True", reason: "PortalAvailable", message: counts }
        : {
            type: "Ready",
            status: "False",
            reason: "PortalUnavailable",
            message: `${counts}; see ${where}`,
          },
  };
}

export async function syncIdentityCenter(
  ctx: OperatorContext,
  { key, log }: ReconcileContext,
): Promise<ReconcileResult> {
  const ic = ctx.identityCenters.informer.get(key);
  if (!ic || ic.metadata.deletionTimestamp) return undefined;
  const certificatePem = await ensureSigningSecret(ctx, ic);
  await ensureSessionSecret(ctx, ic);
  const endpoints = idpEndpoints(portalUrl(ic));
  const { ready, readyReplicas } = await syncPortal(ctx, ic, certificatePem);
  const upstream = await syncUpstreamSaml(ic, ctx.fetchMetadata, ctx.now());
  let conditions = setCondition(ic.status?.conditions, ready, ic.metadata.generation, ctx.now());
  conditions = upstream.condition
    ? setCondition(conditions, upstream.condition, ic.metadata.generation, ctx.now())
    : conditions.filter((c) => c.type !== IDENTITY_SOURCE_CONDITION);
  const status: IdentityCenterStatus = {
    ...ic.status,
    observedGeneration: ic.metadata.generation ?? 0,
    portalUrl: endpoints.portalUrl,
    metadataUrl: endpoints.metadataUrl,
    entityId: endpoints.entityId,
    endpoints: {
      ...ssoEndpoints(endpoints.portalUrl),
      ...(ic.spec.identitySource.type === "oidc"
        ? { upstreamOidcRedirectUri: upstreamOidcRedirectUri(endpoints.portalUrl) }
        : {}),
      ...(ic.spec.identitySource.type === "saml" ? upstreamSamlEndpoints(endpoints.portalUrl) : {}),
      ...(ic.spec.identitySource.scim?.enabled ? { scim: scimBaseUrl(endpoints.portalUrl) } : {}),
    },
    signingCertificate: certificatePem,
    signingCertificateFingerprint: certificateFingerprint(certificatePem),
    signingCertificateNotAfter: certificateNotAfter(certificatePem).toISOString(),
    ...(readyReplicas === undefined ? {} : { readyReplicas }),
    conditions,
  };
  if (upstream.upstreamSaml) status.upstreamSaml = upstream.upstreamSaml;
  else delete status.upstreamSaml;
  if (await ctx.identityCenters.client.updateStatus(ic, status))
    log.info(
      { entityId: endpoints.entityId, readyReplicas, ready: ready.reason },
      "identity center status updated",
    );
  return upstream.requeueAfterMs === undefined
    ? undefined
    : { requeueAfterMs: upstream.requeueAfterMs };
}
