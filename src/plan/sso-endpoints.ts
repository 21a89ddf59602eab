/** Where the portal serves the SSO OIDC and SSO portal APIs, under its base URL. */
export const SSO_OIDC_PATH = "/sso/oidc";
export const SSO_PORTAL_PATH = "/sso/portal";

/** The endpoint URLs the SDKs are pointed at (`sso_oidc` / `sso` endpoint_url). */
export function ssoEndpoints(portalUrl: string): { ssoOidc: string; ssoPortal: string } {
  const base = portalUrl.replace(/\/+$/, "");
  return { ssoOidc: `${base}${SSO_OIDC_PATH}`, ssoPortal: `${base}${SSO_PORTAL_PATH}` };
}

/** Where an upstream OIDC provider sends users back (the redirect URI registered there). */
export const UPSTREAM_OIDC_CALLBACK_PATH = "/upstream/oidc/callback";

export function upstreamOidcRedirectUri(portalUrl: string): string {
  return `${portalUrl.replace(/\/+$/, "")}${UPSTREAM_OIDC_CALLBACK_PATH}`;
}

/** Where the portal serves its side of an upstream SAML IdP (the service provider). */
export const UPSTREAM_SAML_PATH = "/upstream/saml";

/** The values an admin registers with the upstream IdP for the portal as its SP. */
export function upstreamSamlEndpoints(portalUrl: string): {
  upstreamSamlEntityId: string;
  upstreamSamlAcsUrl: string;
  upstreamSamlMetadataUrl: string;
} {
  const base = `${portalUrl.replace(/\/+$/, "")}${UPSTREAM_SAML_PATH}`;
  return {
    // The metadata URL doubles as the entity id: stable, and it resolves to the metadata.
    upstreamSamlEntityId: `${base}/metadata`,
    upstreamSamlAcsUrl: `${base}/acs`,
    upstreamSamlMetadataUrl: `${base}/metadata`,
  };
}

/** Where the portal serves SCIM 2.0 (the base URL, or tenant URL, an IdP provisions through). */
export const SCIM_PATH = "/scim/v2";

export function scimBaseUrl(portalUrl: string): string {
  return `${portalUrl.replace(/\/+$/, "")}${SCIM_PATH}`;
}
