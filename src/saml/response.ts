import { randomBytes } from "node:crypto";
import { signInDocument, type SigningKey } from "./sign.ts";
import { el, NS, serialize, toDocument, type XmlNode } from "./xml-builder.ts";

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
  return `_${randomBytes(16).toString("hex")}`;
}

const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

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
 * The same Response with its Assertion signed (see `signInDocument`). The Assertion is signed
 * on the DOM as built and the document serialized once; signing `buildResponse`'s XML with
 * `signElement` gives the same result but parses it again first.
 */
export function buildSignedResponse(input: ResponseInput, key: SigningKey): BuiltResponse {
  const { doc, responseId, assertionId } = buildResponseDocument(input);
  signInDocument(doc, key, "Assertion");
  return { xml: serialize(doc), responseId, assertionId };
}

/** The unsigned Response as a DOM, for signing before it is serialized. */
export function buildResponseDocument(input: ResponseInput): {
  doc: Document;
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
  return { doc: toDocument(response, ["samlp", "saml", "xs", "xsi"]), responseId, assertionId };
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
