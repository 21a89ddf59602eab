import { randomBytes } from "node:crypto";
import { SAML, ValidateInResponseTo, type CacheProvider, type Profile } from "@node-saml/node-saml";
import { DOMParser } from "@xmldom/xmldom";
import type { IdentityCenter } from "../api/v1alpha1/index.ts";
import { isoDurationSeconds, portalUrl } from "../plan/naming.ts";
import { upstreamSamlEndpoints } from "../plan/sso-endpoints.ts";
import type { SharedDocument } from "../adapters/k8s/secret-document.ts";
import { NS } from "../saml/xml-builder.ts";

/** How long a sign-in sent upstream may take before its answer is refused. */
export const UPSTREAM_REQUEST_TTL_MS = 10 * 60_000;

/** Entra ID's claim listing how the user authenticated (it says MFA here, not in the class). */
const AUTHN_METHODS_REFERENCES = "http://schemas.microsoft.com/claims/authnmethodsreferences";

/** The AuthnRequest waiting for its answer, as the sealed session cookie carries it. */
export interface PendingUpstreamRequest {
  id: string;
  /** ms since the epoch */
  at: number;
}

/** Who the upstream IdP says signed in, after every check of the assertion passed. */
export interface UpstreamSamlIdentity {
  userName: string;
  email: string | undefined;
  groups: string[];
  /** The upstream reports a multi-factor authentication (mfaAuthnContexts). */
  mfa: boolean;
  authnContextClassRef: string | undefined;
  /** The upstream session's end (AuthnStatement SessionNotOnOrAfter), ms since the epoch. */
  sessionNotOnOrAfter: number | undefined;
  assertionId: string;
  /** Until when the assertion could be replayed: its ID is remembered that long. */
  replayableUntil: number;
}

/** Why an upstream response was refused; the message is for the person at the browser. */
export class UpstreamSamlError extends Error {}

/** The SP side of an upstream SAML IdP for one IdentityCenter, from its spec and status. */
export interface UpstreamSamlConfig {
  entityId: string;
  acsUrl: string;
  metadataUrl: string;
  idp: { entityId: string; ssoUrl: string; signingCertificates: string[] } | undefined;
  userNameAttribute: string | undefined;
  emailAttribute: string | undefined;
  groupsAttribute: string | undefined;
  mfaAuthnContexts: readonly string[];
  clockSkewMs: number;
}

/** The SAML identity source of an instance, or undefined when it signs users in otherwise. */
export function upstreamSamlConfig(ic: IdentityCenter): UpstreamSamlConfig | undefined {
  const source = ic.spec.identitySource;
  if (source.type !== "saml" || !source.saml) return undefined;
  const sp = upstreamSamlEndpoints(portalUrl(ic));
  const idp = ic.status?.upstreamSaml;
  return {
    entityId: sp.upstreamSamlEntityId,
    acsUrl: sp.upstreamSamlAcsUrl,
    metadataUrl: sp.upstreamSamlMetadataUrl,
    idp: idp
      ? { entityId: idp.entityId, ssoUrl: idp.ssoUrl, signingCertificates: idp.signingCertificates }
      : undefined,
    userNameAttribute: source.saml.userNameAttribute,
    emailAttribute: source.saml.emailAttribute,
    groupsAttribute: source.saml.groupsAttribute,
    mfaAuthnContexts: source.saml.mfaAuthnContexts,
    clockSkewMs: isoDurationSeconds(source.saml.clockSkew) * 1000,
  };
}

/**
 * node-saml's InResponseTo store, answered from the one request this browser's session
 * cookie says it sent: a response to anyone else's request (or to none) finds nothing. The
 * cookie is sealed, so nothing needs to be shared between replicas for this check.
 */
function pendingRequestCache(pending: PendingUpstreamRequest | undefined): CacheProvider {
  return {
    saveAsync: () => Promise.resolve(null),
    getAsync: (key) =>
      Promise.resolve(pending && key === pending.id ? new Date(pending.at).toISOString() : null),
    removeAsync: () => Promise.resolve(null),
  };
}

function serviceProvider(
  config: UpstreamSamlConfig,
  options: { forceAuthn?: boolean; pending?: PendingUpstreamRequest; requestId?: string },
): SAML {
  const idp = config.idp;
  if (!idp) throw new UpstreamSamlError("The sign-in service is not set up yet. Try again later.");
  return new SAML({
    entryPoint: idp.ssoUrl,
    issuer: config.entityId,
    callbackUrl: config.acsUrl,
    audience: config.entityId,
    idpCert: idp.signingCertificates,
    // The assertion itself must carry the IdP's signature; a signed Response around an
    // unsigned assertion is not enough (and an unsigned one is refused).
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: config.clockSkewMs,
    validateInResponseTo: ValidateInResponseTo.always,
    requestIdExpirationPeriodMs: UPSTREAM_REQUEST_TTL_MS,
    cacheProvider: pendingRequestCache(options.pending),
    // The upstream decides how to authenticate; mfaAuthnContexts reads what it says it did.
    disableRequestedAuthnContext: true,
    identifierFormat: null,
    forceAuthn: options.forceAuthn ?? false,
    ...(options.requestId ? { generateUniqueId: () => options.requestId ?? "" } : {}),
  });
}

/** The portal's SP metadata, for the admin to import upstream. */
export function serviceProviderMetadata(config: UpstreamSamlConfig): string {
  return new SAML({
    entryPoint: config.idp?.ssoUrl ?? config.acsUrl,
    issuer: config.entityId,
    callbackUrl: config.acsUrl,
    idpCert: config.idp?.signingCertificates ?? "unused",
    wantAssertionsSigned: true,
    identifierFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
  }).generateServiceProviderMetadata(null, null);
}

/**
 * An AuthnRequest for the upstream IdP (HTTP-Redirect binding): the URL to send the browser
 * to and the request to remember in the session. `forceAuthn` passes an application's
 * ForceAuthn on, so the upstream asks for credentials again too.
 */
export async function upstreamAuthnRequest(
  config: UpstreamSamlConfig,
  options: { forceAuthn: boolean; now: number },
): Promise<{ url: string; pending: PendingUpstreamRequest }> {
  // An NCName that says nothing about the user: "_" and 20 random bytes.
  const id = `_${randomBytes(20).toString("hex")}`;
  const sp = serviceProvider(config, { forceAuthn: options.forceAuthn, requestId: id });
  const url = await sp.getAuthorizeUrlAsync("", undefined, {});
  return { url, pending: { id, at: options.now } };
}

function firstElement(parent: Document | Element, ns: string, name: string): Element | undefined {
  return parent.getElementsByTagNameNS(ns, name)[0] ?? undefined;
}

function attributeValues(assertion: Element, name: string | undefined): string[] {
  if (!name) return [];
  return Array.from(assertion.getElementsByTagNameNS(NS.saml, "Attribute"))
    .filter((a) => a.getAttribute("Name") === name)
    .flatMap((a) => Array.from(a.getElementsByTagNameNS(NS.saml, "AttributeValue")))
    .map((v) => v.textContent.trim())
    .filter((v) => v !== "");
}

const parseXml = (xml: string) => new DOMParser().parseFromString(xml, "text/xml");

/**
 * Checks a SAMLResponse from the upstream IdP and says who signed in. node-saml checks the
 * signature (assertion signed by a certificate of the IdP's metadata), the validity times
 * with the allowed skew, the audience and InResponseTo (against the request this browser
 * sent); this adds what it leaves to its caller: the Destination and Recipient are our ACS,
 * the Issuer is the IdP. Everything is read from the assertion node-saml verified.
 */
export async function validateUpstreamResponse(
  config: UpstreamSamlConfig,
  samlResponse: string,
  pending: PendingUpstreamRequest | undefined,
): Promise<UpstreamSamlIdentity> {
  const sp = serviceProvider(config, pending ? { pending } : {});
  let profile: Profile | null;
  try {
    ({ profile } = await sp.validatePostResponseAsync({ SAMLResponse: samlResponse }));
  } catch (err) {
    throw new UpstreamSamlError(refusal(err));
  }
  if (!profile) throw new UpstreamSamlError("The identity provider did not sign you in.");
  const response = parseXml(Buffer.from(samlResponse, "base64").toString("utf8")).documentElement;
  const destination = response.getAttribute("Destination");
  if (destination && destination !== config.acsUrl)
    throw new UpstreamSamlError("The sign-in response was meant for another service.");
  const assertion = parseXml(profile.getAssertionXml?.() ?? "<none/>").documentElement;
  if (assertion.localName !== "Assertion")
    throw new UpstreamSamlError("The sign-in response holds no assertion.");
  const issuer = firstElement(assertion, NS.saml, "Issuer")?.textContent.trim();
  if (issuer !== config.idp?.entityId)
    throw new UpstreamSamlError("The sign-in response comes from another identity provider.");
  const assertionId = assertion.getAttribute("ID");
  if (!assertionId) throw new UpstreamSamlError("The sign-in response's assertion has no ID.");
  const confirmations = Array.from(
    assertion.getElementsByTagNameNS(NS.saml, "SubjectConfirmationData"),
  );
  if (!confirmations.some((c) => c.getAttribute("Recipient") === config.acsUrl))
    throw new UpstreamSamlError("The sign-in response was meant for another service.");
  const userName = config.userNameAttribute
    ? attributeValues(assertion, config.userNameAttribute)[0]
    : profile.nameID;
  if (!userName)
    throw new UpstreamSamlError(
      `The identity provider did not say who you are (no ${config.userNameAttribute ?? "NameID"}).`,
    );
  const nameIdIsEmail = /^[^@\s]+@[^@\s]+$/.test(profile.nameID);
  const email = config.emailAttribute
    ? attributeValues(assertion, config.emailAttribute)[0]
    : nameIdIsEmail
      ? profile.nameID
      : undefined;
  const statement = firstElement(assertion, NS.saml, "AuthnStatement");
  const classRef = firstElement(assertion, NS.saml, "AuthnContextClassRef")?.textContent.trim();
  const methods = attributeValues(assertion, AUTHN_METHODS_REFERENCES);
  const mfa = [classRef, ...methods].some((v) => v && config.mfaAuthnContexts.includes(v));
  const sessionEnd = statement?.getAttribute("SessionNotOnOrAfter");
  const conditions = firstElement(assertion, NS.saml, "Conditions");
  const ends = [
    conditions?.getAttribute("NotOnOrAfter"),
    ...confirmations.map((c) => c.getAttribute("NotOnOrAfter")),
  ]
    .map((v) => (v ? Date.parse(v) : NaN))
    .filter((v) => !Number.isNaN(v));
  return {
    userName,
    email,
    groups: attributeValues(assertion, config.groupsAttribute),
    mfa,
    authnContextClassRef: classRef,
    sessionNotOnOrAfter: sessionEnd ? Date.parse(sessionEnd) : undefined,
    assertionId,
    replayableUntil:
      (ends.length > 0 ? Math.max(...ends) : Date.now() + UPSTREAM_REQUEST_TTL_MS) +
      config.clockSkewMs,
  };
}

/** node-saml's reasons, as a page says them. */
function refusal(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/InResponseTo/i.test(message))
    return "This sign-in response does not answer a sign-in started in this browser (or it came too late). Start again from the portal.";
  if (/signature/i.test(message))
    return "The sign-in response is not signed by the identity provider.";
  // An expired SubjectConfirmationData leaves node-saml with "no valid subject confirmation".
  if (/expired|NotOnOrAfter|NotBefore|not yet valid|subject confirmation/i.test(message))
    return "The sign-in response has expired. Start again from the portal.";
  if (/audience/i.test(message)) return "The sign-in response was meant for another service.";
  return "The sign-in response could not be accepted.";
}

/** The IDs of assertions already used, until they would expire anyway; shared by replicas. */
export interface UsedAssertions {
  /** assertion ID -> ms since the epoch after which it is forgotten */
  used: Record<string, number>;
}

export const emptyUsedAssertions = (): UsedAssertions => ({ used: {} });

export const usedAssertionsSecretName = (instance: string) =>
  `identitycenter-${instance}-upstream-saml-replay`;

/**
 * Records an assertion as used, in one conditional write on the document every replica
 * shares; false when it was used before (a replay, on this replica or another).
 */
export async function useAssertionOnce(
  document: SharedDocument<UsedAssertions>,
  identity: { assertionId: string; replayableUntil: number },
  now: number,
): Promise<boolean> {
  let fresh = false;
  await document.update((current) => {
    const used: Record<string, number> = {};
    for (const [id, until] of Object.entries(current.used)) if (until > now) used[id] = until;
    fresh = !(identity.assertionId in used);
    if (fresh) used[identity.assertionId] = identity.replayableUntil;
    return { used };
  });
  return fresh;
}
