import { createHash, sign, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { DOMParser } from "@xmldom/xmldom";
import { ExclusiveCanonicalization } from "xml-crypto";
import {
  buildElement,
  canonicalChild,
  canonicalOpenTag,
  CanonicalXml,
  canonicalXml,
  el,
  escapeAttribute,
  escapeText,
  NS,
  serialize,
  type XmlNode,
} from "./xml-builder.ts";

export const EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256";

export interface SigningKey {
  privateKey: KeyObject;
  /** The certificate's base64 DER body, placed in KeyInfo so SPs can match it. */
  certificateBase64: string;
}

export type SignedElement = "Assertion" | "Response";

const NAMESPACE_OF: Record<SignedElement, string> = { Assertion: NS.saml, Response: NS.samlp };

// xml-crypto's own exclusive C14N, the same code its verifier (and node-saml's) runs: sharing
// it means the bytes we digest and the bytes an xml-crypto based SP digests cannot drift apart.
// It keeps no state between calls.
const exclusiveC14n = new ExclusiveCanonicalization();

/**
 * Exclusive C14N without comments and without an InclusiveNamespaces prefix list: only the
 * namespaces an element or attribute of the subtree visibly uses are rendered (on the first
 * element that uses them), attributes in C14N order, xmlns attributes of the DOM ignored. So the
 * result depends only on the subtree, not on where it sits or which ancestor declares what.
 */
export function canonicalize(element: Element): string {
  return exclusiveC14n.process(element, { inclusiveNamespacesPrefixList: [] });
}

/**
 * Signs the one Assertion or Response of a document in place, on the DOM we built: an enveloped
 * signature with exclusive C14N, a SHA-256 digest and RSA-SHA256, the certificate in KeyInfo,
 * placed right after the element's Issuer as the SAML schema requires.
 *
 * xml-crypto's SignedXml takes the document as a string: it parses it again, finds the element
 * by XPath, clones it for the transforms, parses its own Signature template and serializes the
 * result twice, which cost more than twice as much as the RSA signature itself. Here the
 * digest is taken from the element as built, before the Signature is inserted: exactly what the
 * enveloped-signature transform gives a verifier once it has removed the Signature again. The
 * canonicalizer is still xml-crypto's (see `canonicalize`); docs/adr/0006 has the trade-off.
 */
export function signInDocument(doc: Document, key: SigningKey, element: SignedElement): void {
  const targets = doc.getElementsByTagNameNS(NAMESPACE_OF[element], element);
  const target = targets.item(0);
  // Exactly one: with two, a verifier could be shown the signed one and read the other.
  if (targets.length !== 1 || !target) throw new Error(`expected exactly one ${element}`);
  const id = target.getAttribute("ID");
  if (!id) throw new Error(`${element} has no ID to reference`);
  let issuer: Element | undefined;
  for (let n = target.firstChild; n; n = n.nextSibling) {
    if (n.nodeType !== 1) continue;
    const child = n as Element;
    if (child.namespaceURI === NS.ds && child.localName === "Signature")
      throw new Error(`${element} is already signed`);
    if (!issuer && child.namespaceURI === NS.saml && child.localName === "Issuer") issuer = child;
  }
  if (!issuer) throw new Error(`${element} has no Issuer to place the Signature after`);

  const digest = createHash("sha256").update(canonicalize(target), "utf8").digest("base64");
  const signedInfo = buildElement(doc, signedInfoOf(id, digest));
  // SignedInfo is canonicalized on its own, before it is attached: exclusive C14N renders only
  // xmlns:ds on it wherever it ends up, which is what a verifier computes inside the document.
  // RSA PKCS#1 v1.5 with SHA-256 is what rsa-sha256 means, and what crypto.sign does with an
  // RSA KeyObject.
  const signatureValue = sign(
    "sha256",
    Buffer.from(canonicalize(signedInfo), "utf8"),
    key.privateKey,
  ).toString("base64");
  const signature = buildElement(
    doc,
    el(
      "ds:Signature",
      { "xmlns:ds": NS.ds },
      el("ds:SignatureValue", {}, signatureValue),
      el(
        "ds:KeyInfo",
        {},
        el("ds:X509Data", {}, el("ds:X509Certificate", {}, key.certificateBase64)),
      ),
    ),
  );
  signature.insertBefore(signedInfo, signature.firstChild);
  target.insertBefore(signature, issuer.nextSibling);
}

/**
 * Signs the Assertion or Response of a serialized document: parses it once, signs it with
 * `signInDocument` and serializes it again. Callers that built the document themselves should
 * sign it before serializing (`buildSignedResponse`) and save the parse.
 */
export function signElement(xml: string, key: SigningKey, element: SignedElement): string {
  const doc = new DOMParser().parseFromString(xml, "text/xml");
  signInDocument(doc, key, element);
  return serialize(doc);
}

/** The ds:SignedInfo of an enveloped signature over `#id` with this digest (as in `signInDocument`). */
export function signedInfoOf(id: string, digest: string): XmlNode {
  const algorithm = (name: `ds:${string}`, uri: string) => el(name, { Algorithm: uri });
  return el(
    "ds:SignedInfo",
    {},
    algorithm("ds:CanonicalizationMethod", EXC_C14N),
    algorithm("ds:SignatureMethod", RSA_SHA256),
    el(
      "ds:Reference",
      { URI: `#${id}` },
      el(
        "ds:Transforms",
        {},
        algorithm("ds:Transform", ENVELOPED),
        algorithm("ds:Transform", EXC_C14N),
      ),
      algorithm("ds:DigestMethod", SHA256),
      el("ds:DigestValue", {}, digest),
    ),
  );
}

/**
 * An element already written in exclusive C14N, cut where its Signature goes (right after its
 * Issuer): `head` up to and with the Issuer, `tail` the rest with the end tag. The digest is
 * over `head + tail`, and `head + Signature + tail` is what is sent. `inScope` is what the
 * element's start tag rendered (its own namespaces).
 */
export interface CanonicalParts {
  id: string;
  head: string;
  tail: string;
  inScope: ReadonlyMap<string, string>;
}

interface PreparedTree extends CanonicalParts {
  digest: string;
}

/**
 * The tree in canonical form, piece by piece (see `CanonicalParts`).
 */
function canonicalParts(node: XmlNode): CanonicalParts {
  const id = node.attributes?.ID;
  if (!id) throw new Error(`${node.name} has no ID to reference`);
  const children = node.children ?? [];
  const issuerAt = children.findIndex(
    (c) => typeof c === "object" && !(c instanceof CanonicalXml) && c.name === "saml:Issuer",
  );
  if (issuerAt < 0) throw new Error(`${node.name} has no Issuer to place the Signature after`);
  if (
    children.some(
      (c) => typeof c === "object" && !(c instanceof CanonicalXml) && c.name === "ds:Signature",
    )
  )
    throw new Error(`${node.name} is already signed`);
  const { open, inScope } = canonicalOpenTag(node);
  // Up to the Issuer and after it: the Signature goes in between once it is made.
  let head = open;
  let tail = "";
  children.forEach((c, i) => {
    if (i <= issuerAt) head += canonicalChild(c, node, inScope);
    else tail += canonicalChild(c, node, inScope);
  });
  tail += `</${node.name}>`;
  return { id, head, tail, inScope };
}

/** The parts and the digest of their canonical bytes, which the SignedInfo names. */
function prepare(parts: CanonicalParts): PreparedTree {
  const digest = createHash("sha256").update(parts.head).update(parts.tail).digest("base64");
  return { ...parts, digest };
}

/**
 * The canonical SignedInfo of `signedInfoOf(id, digest)`, written as a template: all of it is
 * fixed but the ID and the digest, so its nine elements need not be built and canonicalized
 * again for every response. `withDs` is the form signed (the
 * element alone renders xmlns:ds); without it, the form inside ds:Signature, which renders it.
 * sign.test.ts checks both against `canonicalXml` and xml-crypto's verifier.
 */
export function canonicalSignedInfo(id: string, digest: string, withDs: boolean): string {
  const ref = escapeAttribute(`#${id}`);
  return (
    `<ds:SignedInfo${withDs ? ` xmlns:ds="${NS.ds}"` : ""}>` +
    `<ds:CanonicalizationMethod Algorithm="${EXC_C14N}"></ds:CanonicalizationMethod>` +
    `<ds:SignatureMethod Algorithm="${RSA_SHA256}"></ds:SignatureMethod>` +
    `<ds:Reference URI="${ref}"><ds:Transforms>` +
    `<ds:Transform Algorithm="${ENVELOPED}"></ds:Transform>` +
    `<ds:Transform Algorithm="${EXC_C14N}"></ds:Transform></ds:Transforms>` +
    `<ds:DigestMethod Algorithm="${SHA256}"></ds:DigestMethod>` +
    `<ds:DigestValue>${escapeText(digest)}</ds:DigestValue></ds:Reference></ds:SignedInfo>`
  );
}

// The KeyInfo of each certificate in canonical form, written once per certificate.
const keyInfos = new Map<string, string>();
function canonicalKeyInfo(certificateBase64: string): string {
  let keyInfo = keyInfos.get(certificateBase64);
  if (keyInfo === undefined) {
    keyInfo = `<ds:KeyInfo><ds:X509Data><ds:X509Certificate>${escapeText(checkedText(certificateBase64))}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`;
    // A few keys at a time (the instance's and each Application's): bounded all the same.
    if (keyInfos.size >= 1000) keyInfos.clear();
    keyInfos.set(certificateBase64, keyInfo);
  }
  return keyInfo;
}

const checkedText = (value: string) => {
  if (!/^[A-Za-z0-9+/=\s]*$/.test(value)) throw new Error("the certificate is not base64");
  return value;
};

function withSignature(
  prepared: PreparedTree,
  signatureValue: Buffer,
  key: SigningKey,
): CanonicalXml {
  // What canonicalXml(el("ds:Signature", ...)) gives under the Assertion, which renders no ds.
  if (!prepared.inScope.has("ds")) {
    const signature =
      `<ds:Signature xmlns:ds="${NS.ds}">` +
      canonicalSignedInfo(prepared.id, prepared.digest, false) +
      `<ds:SignatureValue>${signatureValue.toString("base64")}</ds:SignatureValue>` +
      canonicalKeyInfo(key.certificateBase64) +
      "</ds:Signature>";
    return new CanonicalXml(prepared.head + signature + prepared.tail);
  }
  const signature = el(
    "ds:Signature",
    {},
    signedInfoOf(prepared.id, prepared.digest),
    el("ds:SignatureValue", {}, signatureValue.toString("base64")),
    el(
      "ds:KeyInfo",
      {},
      el("ds:X509Data", {}, el("ds:X509Certificate", {}, key.certificateBase64)),
    ),
  );
  return new CanonicalXml(
    prepared.head + canonicalXml(signature, prepared.inScope) + prepared.tail,
  );
}

/**
 * The same enveloped signature as `signInDocument`, made on a tree built with `el` before it is
 * ever a DOM: the element is written once in exclusive C14N, straight from the tree; those
 * bytes are digested and, with the Signature placed after the Issuer, sent as they are (C14N is
 * well-formed XML). No DOM is built, canonicalized or serialized, which cost about half as much
 * again as the RSA signature itself.
 */
export function signTree(node: XmlNode, key: SigningKey): CanonicalXml {
  return signCanonical(canonicalParts(node), key);
}

/**
 * The enveloped signature of an element its caller wrote in exclusive C14N itself (a response
 * template, see response.ts), placed after its Issuer: what `signTree` does once it has written
 * the tree.
 */
export function signCanonical(parts: CanonicalParts, key: SigningKey): CanonicalXml {
  const prepared = prepare(parts);
  const value = sign("sha256", signedBytes(prepared), key.privateKey);
  return withSignature(prepared, value, key);
}

const signAsync = promisify(sign);

/** The bytes RSA signs: the SignedInfo in canonical form, alone. */
const signedBytes = (prepared: PreparedTree) =>
  Buffer.from(canonicalSignedInfo(prepared.id, prepared.digest, true), "utf8");

/**
 * `signCanonical` with the RSA signature made on libuv's thread pool (crypto.sign's callback
 * form), so the event loop serves other requests meanwhile and a pod's signatures per second
 * grow with its CPUs.
 */
export async function signCanonicalOffLoop(
  parts: CanonicalParts,
  key: SigningKey,
): Promise<CanonicalXml> {
  const prepared = prepare(parts);
  const value = await signAsync("sha256", signedBytes(prepared), key.privateKey);
  return withSignature(prepared, value, key);
}
