import {
  signCanonical,
  signCanonicalOffLoop,
  signTree,
  type CanonicalParts,
  type SigningKey,
} from "./sign.ts";
import {
  carriesOnlyXmlChars,
  el,
  escapeAttribute,
  escapeText,
  NS,
  serialize,
  toDocument,
  writeXml,
  type CanonicalXml,
  type XmlNode,
} from "./xml-builder.ts";
import { randomHex } from "../util/random-pool.ts";

export interface SamlAttribute {
  name: string;
  nameFormat?: string;
  values: string[];
}

export interface ResponseInput {
  issuer: string;
  /** Where the response is posted: Response@Destination and SubjectConfirmationData@Recipient. */
  destination: string;
  audience: string;
  nameId: string;
  nameIdFormat: string;
  attributes: SamlAttribute[];
  now: Date;
  /** How long the bearer assertion may be used. */
  validForSeconds?: number;
  sessionNotOnOrAfter?: Date;
  inResponseTo?: string;
  /** When the user signed in (AuthnInstant); the response time when unknown. */
  authnInstant?: Date;
  /** How the user signed in (see authn-context.ts); PasswordProtectedTransport when unknown. */
  authnContextClassRef?: string;
}

/** 128 random bits, as an XML ID (which must not start with a digit). */
export function newId(): string {
  // From a pool filled 4 KiB at a time: one call into the CSPRNG per 256 IDs, not per ID.
  return `_${randomHex(16)}`;
}

// Seconds precision, as SAML deployments expect (no milliseconds).
const iso = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

export interface BuiltResponse {
  xml: string;
  responseId: string;
  assertionId: string;
}

/**
 * An unsigned SAML 2.0 Response with one Assertion: one bearer SubjectConfirmation whose
 * Recipient is the destination, an audience restriction, and the attributes. IDs are random.
 */
export function buildResponse(input: ResponseInput): BuiltResponse {
  const { doc, responseId, assertionId } = buildResponseDocument(input);
  return { xml: serialize(doc), responseId, assertionId };
}

/**
 * The same Response with its Assertion signed, written once: the Assertion straight in
 * exclusive C14N from its template (`responseText`), those bytes digested and sent with the
 * Signature after the Issuer. The result is byte for byte what `signTree` on the tree of
 * `buildResponseDocument` gives (sign.test.ts compares them, and checks both against
 * xml-crypto's verifier and canonicalizer).
 */
export function buildSignedResponse(input: ResponseInput, key: SigningKey): BuiltResponse {
  const responseId = newId();
  const assertionId = newId();
  const text = responseText(input, responseId, assertionId);
  if (!text) return signedFromTree(input, key, responseId, assertionId);
  const signed = signCanonical(text.assertion, key);
  return { xml: text.start + signed.xml + RESPONSE_END, responseId, assertionId };
}

/** `buildSignedResponse` with the RSA signature made off the event loop (`signCanonicalOffLoop`). */
export async function buildSignedResponseOffLoop(
  input: ResponseInput,
  key: SigningKey,
): Promise<BuiltResponse> {
  const responseId = newId();
  const assertionId = newId();
  const text = responseText(input, responseId, assertionId);
  if (!text) return signedFromTree(input, key, responseId, assertionId);
  const signed = await signCanonicalOffLoop(text.assertion, key);
  return { xml: text.start + signed.xml + RESPONSE_END, responseId, assertionId };
}

/**
 * The signed Response made from the tree (`el`, `signTree`, `writeXml`): the reference the
 * template must equal, and what a value XML cannot carry is refused by, with its place named.
 * Exported for sign.test.ts, which compares the two for given IDs.
 */
export function signedFromTree(
  input: ResponseInput,
  key: SigningKey,
  responseId: string,
  assertionId: string,
): BuiltResponse {
  const { response, assertion } = buildResponseTree(input, responseId, assertionId);
  const signed = signTree(assertion, key);
  return { xml: writeResponse(response, assertion, signed), responseId, assertionId };
}

/** `buildSignedResponse` for given IDs: exported for sign.test.ts (see `signedFromTree`). */
export function signedFromText(
  input: ResponseInput,
  key: SigningKey,
  responseId: string,
  assertionId: string,
): BuiltResponse | undefined {
  const text = responseText(input, responseId, assertionId);
  if (!text) return undefined;
  const signed = signCanonical(text.assertion, key);
  return { xml: text.start + signed.xml + RESPONSE_END, responseId, assertionId };
}

const RESPONSE_NAMESPACES = ["samlp", "saml", "xs", "xsi"] as const;
const RESPONSE_END = "</samlp:Response>";
const BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const URI_FORMAT = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
const PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
const SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success";

/**
 * The tree of `buildResponseTree` written as text, without building it: the Response's start
 * (as `writeXml` writes it, up to the Assertion) and the Assertion in exclusive C14N (as
 * `canonicalXml` writes it: only saml rendered on the Assertion and xsi on each AttributeValue,
 * attributes in C14N order) cut at the Signature's place. Every value goes through the same
 * escaping as there. Undefined when a value holds a character XML cannot carry: the tree then
 * refuses it with its place named. About a tenth of what building and walking the tree cost,
 * which was a fifth of a response beside its RSA signature.
 */
function responseText(
  input: ResponseInput,
  responseId: string,
  assertionId: string,
): { start: string; assertion: CanonicalParts } | undefined {
  const classRef = input.authnContextClassRef ?? PASSWORD_PROTECTED;
  const irt = input.inResponseTo;
  if (
    !carriesOnlyXmlChars(input.issuer) ||
    !carriesOnlyXmlChars(input.destination) ||
    !carriesOnlyXmlChars(input.audience) ||
    !carriesOnlyXmlChars(input.nameId) ||
    !carriesOnlyXmlChars(input.nameIdFormat) ||
    !carriesOnlyXmlChars(classRef) ||
    (irt !== undefined && !carriesOnlyXmlChars(irt))
  )
    return undefined;
  const { issueInstant, notOnOrAfter, notBefore, authnInstant, sessionNotOnOrAfter } =
    timesOf(input);
  const issuer = escapeText(input.issuer);
  const destination = escapeAttribute(input.destination);
  let statement = "";
  if (input.attributes.length > 0) {
    statement = "<saml:AttributeStatement>";
    for (const a of input.attributes) {
      const format = a.nameFormat ?? URI_FORMAT;
      if (!carriesOnlyXmlChars(a.name) || !carriesOnlyXmlChars(format)) return undefined;
      statement += `<saml:Attribute Name="${escapeAttribute(a.name)}" NameFormat="${escapeAttribute(format)}">`;
      for (const v of a.values) {
        if (!carriesOnlyXmlChars(v)) return undefined;
        statement += `<saml:AttributeValue xmlns:xsi="${NS.xsi}" xsi:type="xs:string">${escapeText(v)}</saml:AttributeValue>`;
      }
      statement += "</saml:Attribute>";
    }
    statement += "</saml:AttributeStatement>";
  }
  const inResponseTo = irt === undefined ? "" : ` InResponseTo="${escapeAttribute(irt)}"`;
  const head =
    `<saml:Assertion xmlns:saml="${NS.saml}" ID="${escapeAttribute(assertionId)}" IssueInstant="${issueInstant}" Version="2.0">` +
    `<saml:Issuer>${issuer}</saml:Issuer>`;
  const tail =
    `<saml:Subject><saml:NameID Format="${escapeAttribute(input.nameIdFormat)}">${escapeText(input.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="${BEARER}"><saml:SubjectConfirmationData${inResponseTo} NotOnOrAfter="${notOnOrAfter}" Recipient="${destination}"></saml:SubjectConfirmationData></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}"><saml:AudienceRestriction><saml:Audience>${escapeText(input.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${authnInstant}" SessionIndex="${escapeAttribute(assertionId)}"${sessionNotOnOrAfter === undefined ? "" : ` SessionNotOnOrAfter="${sessionNotOnOrAfter}"`}>` +
    `<saml:AuthnContext><saml:AuthnContextClassRef>${escapeText(classRef)}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    statement +
    "</saml:Assertion>";
  const start =
    `<samlp:Response ID="${escapeAttribute(responseId)}" Version="2.0" IssueInstant="${issueInstant}" Destination="${destination}"${inResponseTo}` +
    RESPONSE_NAMESPACES.map((p) => ` xmlns:${p}="${NS[p]}"`).join("") +
    ">" +
    (issuer === "" ? "<saml:Issuer/>" : `<saml:Issuer>${issuer}</saml:Issuer>`) +
    `<samlp:Status><samlp:StatusCode Value="${SUCCESS}"/></samlp:Status>`;
  return { start, assertion: { id: assertionId, head, tail, inScope: SAML_IN_SCOPE } };
}

const SAML_IN_SCOPE: ReadonlyMap<string, string> = new Map([["saml", NS.saml]]);

/** The times of a response, in the seconds precision SAML deployments expect. */
function timesOf(input: ResponseInput) {
  const issueInstant = iso(input.now);
  return {
    issueInstant,
    notOnOrAfter: iso(new Date(input.now.getTime() + (input.validForSeconds ?? 300) * 1000)),
    notBefore: iso(new Date(input.now.getTime() - 60_000)),
    authnInstant: input.authnInstant ? iso(input.authnInstant) : issueInstant,
    sessionNotOnOrAfter: input.sessionNotOnOrAfter ? iso(input.sessionNotOnOrAfter) : undefined,
  };
}

function writeResponse(response: XmlNode, assertion: XmlNode, signed: CanonicalXml): string {
  const children = (response.children ?? []).map((c) => (c === assertion ? signed : c));
  return writeXml({ ...response, children }, [...RESPONSE_NAMESPACES]);
}

/** The unsigned Response as a DOM, for signing before it is serialized. */
export function buildResponseDocument(input: ResponseInput): {
  doc: Document;
  responseId: string;
  assertionId: string;
} {
  const responseId = newId();
  const assertionId = newId();
  const { response } = buildResponseTree(input, responseId, assertionId);
  return { doc: toDocument(response, [...RESPONSE_NAMESPACES]), responseId, assertionId };
}

function buildResponseTree(
  input: ResponseInput,
  responseId: string,
  assertionId: string,
): { response: XmlNode; assertion: XmlNode } {
  const { issueInstant, notOnOrAfter, notBefore, authnInstant, sessionNotOnOrAfter } =
    timesOf(input);
  const attributes: XmlNode[] = input.attributes.map((a) =>
    el(
      "saml:Attribute",
      {
        Name: a.name,
        NameFormat: a.nameFormat ?? URI_FORMAT,
      },
      ...a.values.map((v) => el("saml:AttributeValue", { "xsi:type": "xs:string" }, v)),
    ),
  );
  const assertion = el(
    "saml:Assertion",
    { ID: assertionId, Version: "2.0", IssueInstant: issueInstant },
    el("saml:Issuer", {}, input.issuer),
    el(
      "saml:Subject",
      {},
      el("saml:NameID", { Format: input.nameIdFormat }, input.nameId),
      el(
        "saml:SubjectConfirmation",
        { Method: BEARER },
        el("saml:SubjectConfirmationData", {
          NotOnOrAfter: notOnOrAfter,
          Recipient: input.destination,
          InResponseTo: input.inResponseTo,
        }),
      ),
    ),
    el(
      "saml:Conditions",
      { NotBefore: notBefore, NotOnOrAfter: notOnOrAfter },
      el("saml:AudienceRestriction", {}, el("saml:Audience", {}, input.audience)),
    ),
    el(
      "saml:AuthnStatement",
      {
        AuthnInstant: authnInstant,
        SessionIndex: assertionId,
        SessionNotOnOrAfter: sessionNotOnOrAfter,
      },
      el(
        "saml:AuthnContext",
        {},
        el("saml:AuthnContextClassRef", {}, input.authnContextClassRef ?? PASSWORD_PROTECTED),
      ),
    ),
    attributes.length > 0 ? el("saml:AttributeStatement", {}, ...attributes) : undefined,
  );
  const response = el(
    "samlp:Response",
    {
      ID: responseId,
      Version: "2.0",
      IssueInstant: issueInstant,
      Destination: input.destination,
      InResponseTo: input.inResponseTo,
    },
    el("saml:Issuer", {}, input.issuer),
    el("samlp:Status", {}, el("samlp:StatusCode", { Value: SUCCESS })),
    assertion,
  );
  return { response, assertion };
}

/** Second-level status codes the IdP answers an AuthnRequest with when it cannot sign in. */
export type FailureStatus = "NoPassive" | "NoAuthnContext";

/**
 * A Response with no Assertion that says why the IdP did not sign the user in: top-level
 * Responder with the second-level code (SAML core 3.2.2.2), which SPs show or act on (a
 * passive SP falls back to its own sign-in). Sign its Response element: SPs trust the status
 * only with a valid signature.
 */
export function buildStatusResponseDocument(input: {
  issuer: string;
  destination: string;
  inResponseTo: string;
  status: FailureStatus;
  now: Date;
}): { doc: Document; responseId: string } {
  const responseId = newId();
  const response = el(
    "samlp:Response",
    {
      ID: responseId,
      Version: "2.0",
      IssueInstant: iso(input.now),
      Destination: input.destination,
      InResponseTo: input.inResponseTo,
    },
    el("saml:Issuer", {}, input.issuer),
    el(
      "samlp:Status",
      {},
      el(
        "samlp:StatusCode",
        { Value: "urn:oasis:names:tc:SAML:2.0:status:Responder" },
        el("samlp:StatusCode", { Value: `urn:oasis:names:tc:SAML:2.0:status:${input.status}` }),
      ),
    ),
  );
  return { doc: toDocument(response, ["samlp", "saml"]), responseId };
}

export { NS };
