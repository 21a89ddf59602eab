import { certificateBase64 } from "./signing-identity.ts";

export interface IdpEndpoints {
  portalUrl: string;
  entityId: string;
  metadataUrl: string;
  ssoUrl: string;
}

/** Where the IdP lives, from the portal's base URL. */
export function idpEndpoints(portalUrl: string): IdpEndpoints {
  const base = portalUrl.replace(/\/+$/, "");
  return {
    portalUrl: base,
    entityId: `${base}/saml/metadata`,
    metadataUrl: `${base}/saml/metadata`,
    ssoUrl: `${base}/saml/sso`,
  };
}

/**
 * Where one Application's sign-in starts and where its own metadata (its own signing
 * certificate, the instance's entity id and SSO endpoints) is published.
 */
export function applicationEndpoints(
  endpoints: IdpEndpoints,
  application: string,
): { signInUrl: string; metadataUrl: string } {
  const base = `${endpoints.portalUrl}/applications/${encodeURIComponent(application)}`;
  return { signInUrl: base, metadataUrl: `${base}/saml/metadata` };
}

function escapeXml(value: string): string {
  return value.replace(
    /[<>&"']/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c] ?? c,
  );
}

/**
 * The IdP's SAML 2.0 metadata. Deterministic for the same inputs, so comparing it with what an
 * IAM SAML provider holds tells whether the provider needs an update.
 */
export function idpMetadataXml(endpoints: IdpEndpoints, certificatePem: string): string {
  const cert = certificateBase64(certificatePem);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${escapeXml(endpoints.entityId)}">`,
    '<md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">',
    '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>',
    cert,
    "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
    "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>",
    "<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>",
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${escapeXml(endpoints.ssoUrl)}"/>`,
    `<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${escapeXml(endpoints.ssoUrl)}"/>`,
    "</md:IDPSSODescriptor>",
    "</md:EntityDescriptor>",
  ].join("");
}
