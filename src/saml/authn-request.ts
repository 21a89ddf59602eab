import { deflateRawSync, inflateRawSync } from "node:zlib";
import { DOMParser } from "@xmldom/xmldom";
import { NS } from "./xml-builder.ts";

/** What the IdP needs from a service provider's AuthnRequest. */
export interface AuthnRequest {
  id: string;
  issuer: string;
  /** Where the SP wants the Response; must be the Application's registered ACS URL. */
  acsUrl: string | undefined;
  protocolBinding: string | undefined;
  /** The SP wants the user to sign in again, whatever session exists. */
  forceAuthn: boolean;
  /** The SP wants no interaction: answer from an existing session or with NoPassive. */
  isPassive: boolean;
  /** How the user must have signed in, if the SP says. */
  requestedAuthnContext: RequestedAuthnContext | undefined;
}

export interface RequestedAuthnContext {
  comparison: AuthnContextComparison;
  classRefs: string[];
}

export type AuthnContextComparison = "exact" | "minimum" | "maximum" | "better";
const COMPARISONS: readonly string[] = ["exact", "minimum", "maximum", "better"];

/** xs:boolean: "true" or "1". */
const xsTrue = (value: string | null) => value === "true" || value === "1";

export class AuthnRequestError extends Error {}

const HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
// An AuthnRequest is a few hundred bytes; the cap stops a small deflated "zip bomb".
const MAX_XML_BYTES = 64 * 1024;

/** The XML of a SAMLRequest: raw DEFLATE + base64 (HTTP-Redirect) or base64 (HTTP-POST). */
export function decodeSamlRequest(value: string, binding: "redirect" | "post"): string {
  const bytes = Buffer.from(value, "base64");
  if (bytes.length === 0) throw new AuthnRequestError("the SAMLRequest is empty");
  if (binding === "post") {
    if (bytes.length > MAX_XML_BYTES) throw new AuthnRequestError("the SAMLRequest is too large");
    return bytes.toString("utf8");
  }
  try {
    return inflateRawSync(bytes, { maxOutputLength: MAX_XML_BYTES }).toString("utf8");
  } catch {
    throw new AuthnRequestError("the SAMLRequest is not DEFLATE-compressed or is too large");
  }
}

/** The HTTP-Redirect form of an AuthnRequest's XML. */
export function encodeRedirectSamlRequest(xml: string): string {
  return deflateRawSync(Buffer.from(xml, "utf8")).toString("base64");
}

/**
 * Reads a SAML 2.0 AuthnRequest. Only what the response needs is taken; the request is not
 * trusted for anything else (the Application decides the ACS URL, NameID and attributes).
 */
export function parseAuthnRequest(xml: string): AuthnRequest {
  if (/<!DOCTYPE/i.test(xml)) throw new AuthnRequestError("a DOCTYPE is not allowed");
  const problems: string[] = [];
  const doc = new DOMParser({
    errorHandler: (level: string, message: unknown) => {
      if (level !== "warning") problems.push(String(message));
    },
  }).parseFromString(xml, "text/xml");
  const root = doc.documentElement as Element | null;
  if (problems.length > 0 || !root)
    throw new AuthnRequestError("the SAMLRequest is not well-formed XML");
  if (root.namespaceURI !== NS.samlp || root.localName !== "AuthnRequest")
    throw new AuthnRequestError("the SAMLRequest is not an AuthnRequest");
  if (root.getAttribute("Version") !== "2.0")
    throw new AuthnRequestError("only SAML 2.0 AuthnRequests are accepted");
  const id = root.getAttribute("ID") ?? "";
  if (!/^[A-Za-z_][\w.-]{0,255}$/.test(id))
    throw new AuthnRequestError("the AuthnRequest has no valid ID");
  let issuer = "";
  let requestedAuthnContext: RequestedAuthnContext | undefined;
  for (let n = root.firstChild; n; n = n.nextSibling) {
    const child = n as Element;
    if (n.nodeType !== 1) continue;
    if (child.namespaceURI === NS.saml && child.localName === "Issuer")
      issuer = child.textContent.trim();
    if (child.namespaceURI === NS.samlp && child.localName === "RequestedAuthnContext")
      requestedAuthnContext = readRequestedAuthnContext(child);
  }
  if (!issuer) throw new AuthnRequestError("the AuthnRequest names no Issuer");
  const protocolBinding = root.getAttribute("ProtocolBinding") || undefined;
  if (protocolBinding && protocolBinding !== HTTP_POST)
    throw new AuthnRequestError("only the HTTP-POST binding is supported for the response");
  return {
    id,
    issuer,
    acsUrl: root.getAttribute("AssertionConsumerServiceURL") || undefined,
    protocolBinding,
    forceAuthn: xsTrue(root.getAttribute("ForceAuthn")),
    isPassive: xsTrue(root.getAttribute("IsPassive")),
    requestedAuthnContext,
  };
}

function readRequestedAuthnContext(element: Element): RequestedAuthnContext {
  const comparison = element.getAttribute("Comparison") || "exact";
  if (!COMPARISONS.includes(comparison))
    throw new AuthnRequestError(`the RequestedAuthnContext has an unknown Comparison`);
  const classRefs: string[] = [];
  for (let n = element.firstChild; n; n = n.nextSibling) {
    const child = n as Element;
    if (n.nodeType !== 1 || child.namespaceURI !== NS.saml) continue;
    if (child.localName === "AuthnContextDeclRef")
      throw new AuthnRequestError("authentication context declarations are not supported");
    if (child.localName === "AuthnContextClassRef") classRefs.push(child.textContent.trim());
  }
  if (classRefs.length === 0)
    throw new AuthnRequestError("the RequestedAuthnContext names no AuthnContextClassRef");
  return { comparison: comparison as AuthnContextComparison, classRefs };
}
