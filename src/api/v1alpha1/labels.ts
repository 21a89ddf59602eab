/**
 * The label on Users and Groups that GitOps does not own, saying who does: SCIM provisioning
 * (MANAGED_BY_SCIM) or just-in-time provisioning at sign-in (MANAGED_BY_IDENTITY_SOURCE).
 * Objects without it belong to whoever applies them (kubectl, GitOps); each side refuses to
 * touch the other's. Part of the API: admins select and write it (plan/naming.ts re-exports it).
 */
export const MANAGED_BY_SOURCE_LABEL = "identitycenter.dev/managed-by";
export const MANAGED_BY_SCIM = "scim";
export const MANAGED_BY_IDENTITY_SOURCE = "identity-source";
