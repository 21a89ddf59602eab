import { DOMParser } from "@xmldom/xmldom";

/** What the portal needs to trust an upstream SAML IdP, read from its metadata. */
export interface UpstreamIdp {
  entityId: string;
  /** The HTTP-Redirect SingleSignOnService: where AuthnRequests go. */
  ssoUrl: string;
  /** PEM certificates of the KeyDescriptors for signing (or of no stated use). */
  signingCertificates: string[];
}

export class MetadataError extends Error {}

const MD = "urn:oasis:names:tc:SAML:2.0:metadata";
const DS = "http://www.w3.org/2000/09/xmldsig#";
const REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
/** Large federation aggregates are not an IdP's metadata; Entra ID's is about 20 KiB. */
export const MAX_METADATA_BYTES = 1024 * 1024;

function children(parent: Element, ns: string, localName: string): Element[] {
  const found: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    const child = n as Element;
    if (n.nodeType === 1 && child.namespaceURI === ns && child.localName === localName)
      found.push(child);
  }
  return found;
}

function descendants(parent: Element, ns: string, localName: string): Element[] {
  return Array.from(parent.getElementsByTagNameNS(ns, localName));
}

function pemOf(base64: string): string {
  const body = base64.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new MetadataError("a certificate is not base64");
  const lines = body.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}

/**
 * Reads an IdP's SAML 2.0 metadata: an EntityDescriptor with one IDPSSODescriptor (or an
 * EntitiesDescriptor holding exactly one IdP). The metadata's own signature is not checked:
 * it is trusted because the admin pasted it or named an https URL for it.
 */
export function parseUpstreamMetadata(xml: string): UpstreamIdp {
  if (Buffer.byteLength(xml, "utf8") > MAX_METADATA_BYTES)
    throw new MetadataError("the metadata is larger than 1 MiB");
  if (/<!DOCTYPE/i.test(xml)) throw new MetadataError("a DOCTYPE is not allowed in metadata");
  const problems: string[] = [];
  const doc = new DOMParser({
    errorHandler: (level: string, message: unknown) => {
      if (level !== "warning") problems.push(String(message));
    },
  }).parseFromString(xml, "text/xml");
  const root = doc.documentElement as Element | null;
  if (problems.length > 0 || !root) throw new MetadataError("the metadata is not well-formed XML");
  if (root.namespaceURI !== MD)
    throw new MetadataError("the metadata is not a SAML 2.0 EntityDescriptor");
  const entities =
    root.localName === "EntityDescriptor"
      ? [root]
      : root.localName === "EntitiesDescriptor"
        ? descendants(root, MD, "EntityDescriptor")
        : [];
  const idps = entities.filter((e) => children(e, MD, "IDPSSODescriptor").length > 0);
  if (idps.length !== 1)
    throw new MetadataError(
      idps.length === 0
        ? "the metadata describes no identity provider (no IDPSSODescriptor)"
        : "the metadata describes more than one identity provider",
    );
  const entity = idps[0] as Element;
  const entityId = entity.getAttribute("entityID") ?? "";
  if (!entityId) throw new MetadataError("the EntityDescriptor has no entityID");
  const descriptor = children(entity, MD, "IDPSSODescriptor")[0] as Element;
  const sso = children(descriptor, MD, "SingleSignOnService").find(
    (s) => s.getAttribute("Binding") === REDIRECT,
  );
  const ssoUrl = sso?.getAttribute("Location") ?? "";
  if (!/^https?:\/\/\S+$/.test(ssoUrl))
    throw new MetadataError("the IdP has no HTTP-Redirect SingleSignOnService");
  const signingCertificates = children(descriptor, MD, "KeyDescriptor")
    // A KeyDescriptor with no `use` is for both signing and encryption.
    .filter((k) => [null, "", "signing"].includes(k.getAttribute("use")))
    .flatMap((k) => descendants(k, DS, "X509Certificate"))
    .map((c) => pemOf(c.textContent));
  if (signingCertificates.length === 0)
    throw new MetadataError("the IdP's metadata has no signing certificate");
  return { entityId, ssoUrl, signingCertificates: [...new Set(signingCertificates)] };
}
