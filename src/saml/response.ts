import { randomBytes } from "node:crypto";
import { signTree, signTreeOffLoop, type SigningKey } from "./sign.ts";
import {
  el,
  NS,
  serialize,
  toDocument,
  writeXml,
  type CanonicalXml,
  type XmlNode,
} from "./xml-builder.ts";

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
  if (idPool.offset + 16 > idPool.bytes.length) idPool = { bytes: randomBytes(4096), offset: 0 };
  const id = idPool.bytes.toString("hex", idPool.offset, idPool.offset + 16);
  idPool.offset += 16;
  return `_${id}`;
}
let idPool = { bytes: Buffer.alloc(0), offset: 0 };

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
 * The same Response with its Assertion signed: on the tree as built (see `signTree`), written
 * once. The result is what `signInDocument` on `buildResponseDocument` gives (sign.test.ts
 * checks both against xml-crypto's verifier and canonicalizer).
 */
export function buildSignedResponse(input: ResponseInput, key: SigningKey): BuiltResponse {
  const { response, assertion, responseId, assertionId } = buildResponseTree(input);
  const signed = signTree(assertion, key);
  return { xml: writeResponse(response, assertion, signed), responseId, assertionId };
}

/** `buildSignedResponse` with the RSA signature made off the event loop (`signTreeOffLoop`). */
export async function buildSignedResponseOffLoop(
  input: ResponseInput,
  key: SigningKey,
): Promise<BuiltResponse> {
  const { response, assertion, responseId, assertionId } = buildResponseTree(input);
  const signed = await signTreeOffLoop(assertion, key);
  return { xml: writeResponse(response, assertion, signed), responseId, assertionId };
}

const RESPONSE_NAMESPACES = ["samlp", "saml", "xs", "xsi"] as const;

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
  const { response, responseId, assertionId } = buildResponseTree(input);
  return { doc: toDocument(response, [...RESPONSE_NAMESPACES]), responseId, assertionId };
}

function buildResponseTree(input: ResponseInput): {
  response: XmlNode;
  assertion: XmlNode;
  responseId: string;
  assertionId: string;
} {
  const responseId = newId();
  const assertionId = newId();
  const issueInstant = iso(input.now);
  const notOnOrAfter = iso(new Date(input.now.getTime() + (input.validForSeconds ?? 300) * 1000));
  const notBefore = iso(new Date(input.now.getTime() - 60_000));
  const attributes: XmlNode[] = input.attributes.map((a) =>
    el(
      "saml:Attribute",
      {
        Name: a.name,
        NameFormat: a.nameFormat ?? "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
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
        { Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer" },
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
        AuthnInstant: input.authnInstant ? iso(input.authnInstant) : issueInstant,
        SessionIndex: assertionId,
        SessionNotOnOrAfter: input.sessionNotOnOrAfter ? iso(input.sessionNotOnOrAfter) : undefined,
      },
      el(
        "saml:AuthnContext",
        {},
        el(
          "saml:AuthnContextClassRef",
          {},
          input.authnContextClassRef ??
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
        ),
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
    el(
      "samlp:Status",
      {},
      el("samlp:StatusCode", { Value: "urn:oasis:names:tc:SAML:2.0:status:Success" }),
    ),
    assertion,
  );
  return { response, assertion, responseId, assertionId };
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
