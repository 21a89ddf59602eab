import { createHash } from "node:crypto";
import type { IdentityCenter } from "../api/v1alpha1/index.ts";

export const ROLE_PREFIX = "IdC_";
export const ROLE_PATH = "/identitycenter/";
export const TAG_MANAGED_BY = "identitycenter.dev/managed-by";
/** The key naming the instance an object belongs to: a label on Kubernetes objects, a tag on roles. */
export const INSTANCE_KEY = "identitycenter.dev/instance";
export {
  MANAGED_BY_IDENTITY_SOURCE,
  MANAGED_BY_SCIM,
  MANAGED_BY_SOURCE_LABEL,
} from "../api/v1alpha1/labels.ts";
/** The standard label saying which tool manages a Kubernetes object; ours say MANAGED_BY. */
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const TAG_PERMISSION_SET = "identitycenter.dev/permission-set";
export const MANAGED_BY = "identity-center-operator";
export const INLINE_POLICY_NAME = "IdentityCenterInline";

/**
 * `IdC_<PermissionSetName>_<16 hex>`: the hash of instance and permission set object keeps names
 * unique across instances and stable across renames of the display name's case. At most
 * 4 + 32 + 1 + 16 = 53 characters, within IAM's 64.
 */
export function roleName(
  instance: string,
  permissionSetObject: string,
  permissionSetName: string,
): string {
  const hash = createHash("sha256")
    .update(`${instance}/${permissionSetObject}`)
    .digest("hex")
    .slice(0, 16);
  return `${ROLE_PREFIX}${permissionSetName}_${hash}`;
}

export function samlProviderName(instance: string): string {
  return `IdentityCenterOperator_${instance}`;
}

export function iamArn(partition: string, accountId: string, resource: string): string {
  return `arn:${partition}:iam::${accountId}:${resource}`;
}

/** ISO-8601 `PT#H#M#S` to seconds. */
export function isoDurationSeconds(value: string): number {
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$/.exec(value);
  if (!m) throw new Error(`not an ISO-8601 time duration: ${value}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** The Secret of the operator namespace holding an instance's SAML signing key and certificate. */
export const signingSecretName = (instance: string) => `identitycenter-${instance}-signing`;

/** The key that seals the instance's session cookies, created by the controller. */
export const sessionSecretName = (instance: string) => `identitycenter-${instance}-session`;

/**
 * Where users' credential records live unless `--credentials-namespace` says otherwise: a
 * namespace of their own, so the portal may manage Secrets there without reaching any other.
 */
export const defaultCredentialsNamespace = (operatorNamespace: string) =>
  `${operatorNamespace}-credentials`;

/** Where users of an instance sign in: the external URL, else https on the portal hostname. */
export function portalUrl(ic: IdentityCenter): string {
  return ic.spec.portal.externalUrl ?? `https://${ic.spec.portal.hostname}`;
}

const APPLICATION_SIGNING_PREFIX = "idc-application-signing-";
/** A Secret name is a DNS-1123 subdomain of at most 253 characters. */
const SECRET_NAME_MAX = 253;

/**
 * The Secret (in the operator namespace) holding one Application's own signing key and
 * certificate. The prefix cannot be produced by the instance's `identitycenter-<instance>-*`
 * names, whatever the names of instances and Applications. A name too long for the prefix is
 * cut and given a hash of the whole name, so two long names never share a Secret.
 */
export function applicationSigningSecretName(application: string): string {
  const plain = `${APPLICATION_SIGNING_PREFIX}${application}`;
  if (plain.length <= SECRET_NAME_MAX) return plain;
  const hash = createHash("sha256").update(application).digest("hex").slice(0, 16);
  const kept = application
    .slice(0, SECRET_NAME_MAX - APPLICATION_SIGNING_PREFIX.length - hash.length - 1)
    .replace(/[.-]+$/, "");
  return `${APPLICATION_SIGNING_PREFIX}${kept}-${hash}`;
}
