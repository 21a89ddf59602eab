import { DOMImplementation, XMLSerializer } from "@xmldom/xmldom";

export const NS = {
  samlp: "urn:oasis:names:tc:SAML:2.0:protocol",
  saml: "urn:oasis:names:tc:SAML:2.0:assertion",
  xs: "http://www.w3.org/2001/XMLSchema",
  xsi: "http://www.w3.org/2001/XMLSchema-instance",
  ds: "http://www.w3.org/2000/09/xmldsig#",
} as const;

type Prefix = keyof typeof NS;

/**
 * A namespace-aware element: `el("saml:Issuer", {}, "text")`. Text and attribute values go
 * through the DOM, which escapes them; no XML is ever made by string concatenation.
 */
export interface XmlNode {
  name: `${Prefix}:${string}`;
  attributes?: Record<string, string | undefined>;
  children?: (XmlNode | string | CanonicalXml)[];
}

/**
 * A subtree already written in exclusive C14N by `canonicalXml` (a signed Assertion), which
 * `writeXml` places as it is: canonical XML is well-formed XML, and a signed subtree is then
 * sent exactly as its bytes were digested. Only the functions of this module and sign.ts make one.
 */
export class CanonicalXml {
  readonly xml: string;
  constructor(xml: string) {
    this.xml = xml;
  }
}

export function el(
  name: XmlNode["name"],
  attributes: XmlNode["attributes"] = {},
  ...children: (XmlNode | string | CanonicalXml | undefined)[]
): XmlNode {
  return {
    name,
    attributes,
    children: children.filter((c): c is XmlNode | string | CanonicalXml => c !== undefined),
  };
}

// Characters XML 1.0 cannot carry at all, not even as character references. xmldom would write
// them out anyway; the document would then be refused by every strict parser (xmlsec1, libxml2),
// or worse, be signed over a value no verifier can read back.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** Whether XML can carry every character of `value` (see `checked`, which names the place). */
export const carriesOnlyXmlChars = (value: string) => !NOT_XML_CHAR.test(value);

function checked(value: string, where: string): string {
  if (NOT_XML_CHAR.test(value)) throw new Error(`${where} contains a character XML cannot carry`);
  return value;
}

/** Builds a tree into `doc` without attaching it; the caller decides where it goes. */
export function buildElement(doc: Document, node: XmlNode): Element {
  const prefix = node.name.split(":")[0] as Prefix;
  const element = doc.createElementNS(NS[prefix], node.name);
  for (const [key, value] of Object.entries(node.attributes ?? {})) {
    if (value === undefined) continue;
    checked(value, `${node.name}@${key}`);
    if (key.startsWith("xmlns:"))
      element.setAttributeNS("http://www.w3.org/2000/xmlns/", key, value);
    else if (key.includes(":")) element.setAttributeNS(NS[key.split(":")[0] as Prefix], key, value);
    else element.setAttribute(key, value);
  }
  for (const child of node.children ?? []) {
    // No empty text nodes: a parser never produces one, so the DOM we sign would differ from
    // the one a verifier reads (and xml-crypto's canonicalizer throws on them).
    if (child === "") continue;
    if (child instanceof CanonicalXml) throw new Error("a written subtree cannot go into a DOM");
    element.appendChild(
      typeof child === "string"
        ? doc.createTextNode(checked(child, node.name))
        : buildElement(doc, child),
    );
  }
  return element;
}

/** A document whose root declares the namespaces, so descendants use prefixes only. */
export function toDocument(root: XmlNode, declare: Prefix[]): Document {
  const doc = new DOMImplementation().createDocument(null, null, null);
  const element = buildElement(doc, root);
  for (const prefix of declare)
    element.setAttributeNS("http://www.w3.org/2000/xmlns/", `xmlns:${prefix}`, NS[prefix]);
  doc.appendChild(element);
  return doc;
}

/**
 * Serializes a document. xmldom escapes tab, line feed and carriage return in attribute values
 * but writes a carriage return in text as is, and a parser turns that into a line feed
 * (https://www.w3.org/TR/xml/#sec-line-ends). Written as `&#xD;` it parses back unchanged, so
 * what a verifier reads is exactly the DOM that was signed (xml-crypto does the same).
 */
export function serialize(doc: Document): string {
  return new XMLSerializer().serializeToString(doc).replace(/\r/g, "&#xD;");
}

// The escaping of exclusive C14N, which a parser reads back unchanged: in text `&`, `<`, `>` and
// carriage return; in attribute values `&`, `<`, `"` and the whitespace a parser would
// normalize. Serializing with it too makes the signed bytes and the sent bytes one and the same.
const TEXT_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  "\r": "&#xD;",
};
const ATTRIBUTE_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  '"': "&quot;",
  "\t": "&#x9;",
  "\n": "&#xA;",
  "\r": "&#xD;",
};
export const escapeText = (s: string) => s.replace(/[&<>\r]/g, (c) => TEXT_ESCAPES[c] ?? c);
export const escapeAttribute = (s: string) =>
  s.replace(/[&<"\t\n\r]/g, (c) => ATTRIBUTE_ESCAPES[c] ?? c);

const prefixOf = (qname: string) => qname.slice(0, qname.indexOf(":")) as Prefix;

/** The attributes of a node that are not namespace declarations, undefined ones left out. */
function ownAttributes(node: XmlNode): [string, string][] {
  const out: [string, string][] = [];
  const attributes = node.attributes;
  if (!attributes) return out;
  for (const key of Object.keys(attributes)) {
    const value = attributes[key];
    if (value === undefined || key.startsWith("xmlns:")) continue;
    if (NOT_XML_CHAR.test(value))
      throw new Error(`${node.name}@${key} contains a character XML cannot carry`);
    out.push([key, value]);
  }
  return out;
}

/**
 * Exclusive XML canonicalization (without comments, no InclusiveNamespaces list) of a tree
 * built with `el`, straight from the tree: the same bytes xml-crypto's canonicalizer gives for
 * the element built from it wherever it sits (sign.test.ts compares the two), without building
 * a DOM. Each element renders the namespaces it visibly uses that no rendered ancestor has;
 * namespace declarations first by prefix, then attributes by namespace URI and local name.
 */
export function canonicalXml(
  node: XmlNode,
  rendered: ReadonlyMap<string, string> = new Map(),
): string {
  const { open, inScope } = canonicalOpenTag(node, rendered);
  let out = open;
  for (const child of node.children ?? []) out += canonicalChild(child, node, inScope);
  return `${out}</${node.name}>`;
}

/** One child of `parent` in canonical form, under the namespaces `inScope` has rendered. */
export function canonicalChild(
  child: XmlNode | string | CanonicalXml,
  parent: XmlNode,
  inScope: ReadonlyMap<string, string>,
): string {
  if (child === "") return "";
  // Its namespaces are its own: rendered where it starts, whatever the parent rendered.
  if (child instanceof CanonicalXml) throw new Error("a written subtree cannot be digested again");
  return typeof child === "string"
    ? escapeText(checked(child, parent.name))
    : canonicalXml(child, inScope);
}

/** The canonical start tag of `node` and the namespaces rendered once it is open. */
export function canonicalOpenTag(
  node: XmlNode,
  rendered: ReadonlyMap<string, string> = new Map(),
): { open: string; inScope: ReadonlyMap<string, string> } {
  const attributes = ownAttributes(node);
  const own = prefixOf(node.name);
  // Most elements of a response: no attributes, their prefix already rendered above.
  if (attributes.length === 0 && rendered.get(own) === NS[own])
    return { open: `<${node.name}>`, inScope: rendered };
  let used: Prefix[] = [own];
  for (const [key] of attributes)
    if (key.includes(":") && !used.includes(prefixOf(key))) used.push(prefixOf(key));
  if (used.length > 1) used = used.sort();
  let inScope = rendered;
  let declarations = "";
  for (const prefix of used) {
    if (rendered.get(prefix) === NS[prefix]) continue;
    if (inScope === rendered) inScope = new Map(rendered);
    (inScope as Map<string, string>).set(prefix, NS[prefix]);
    declarations += ` xmlns:${prefix}="${escapeAttribute(NS[prefix])}"`;
  }
  if (attributes.length > 1) attributes.sort(([a], [b]) => compareAttributes(a, b));
  let open = `<${node.name}${declarations}`;
  for (const [key, value] of attributes) open += ` ${key}="${escapeAttribute(value)}"`;
  return { open: `${open}>`, inScope };
}

// C14N attribute order: by namespace URI (none first), then by local name.
function compareAttributes(a: string, b: string): number {
  const [ua, ub] = [a.includes(":") ? NS[prefixOf(a)] : "", b.includes(":") ? NS[prefixOf(b)] : ""];
  if (ua !== ub) return ua < ub ? -1 : 1;
  const la = a.slice(a.indexOf(":") + 1);
  const lb = b.slice(b.indexOf(":") + 1);
  return la < lb ? -1 : la > lb ? 1 : 0;
}

/**
 * Serializes a tree built with `el` as a document whose root declares `declare` (as
 * `toDocument` + `serialize` would, without the DOM). A prefix no ancestor declares is
 * declared where it is used, so the output is always namespace-well-formed.
 */
export function writeXml(
  node: XmlNode,
  declare: Prefix[] = [],
  inScope: ReadonlySet<string> = new Set(),
): string {
  const attributes = ownAttributes(node);
  const scope = new Set(inScope);
  let out = `<${node.name}`;
  for (const [key, value] of attributes) out += ` ${key}="${escapeAttribute(value)}"`;
  const declared = [
    ...declare,
    ...Object.keys(node.attributes ?? {})
      .filter((k) => k.startsWith("xmlns:") && node.attributes?.[k] !== undefined)
      .map((k) => k.slice("xmlns:".length) as Prefix),
  ];
  for (const [key] of [[node.name], ...attributes]) {
    const prefix = key.includes(":") ? prefixOf(key) : undefined;
    if (prefix && !scope.has(prefix) && !declared.includes(prefix)) declared.push(prefix);
  }
  for (const prefix of declared) {
    if (scope.has(prefix)) continue;
    scope.add(prefix);
    out += ` xmlns:${prefix}="${escapeAttribute(NS[prefix])}"`;
  }
  const children = (node.children ?? []).filter((c) => c !== "");
  if (children.length === 0) return `${out}/>`;
  out += ">";
  for (const child of children)
    out +=
      child instanceof CanonicalXml
        ? child.xml
        : typeof child === "string"
          ? escapeText(checked(child, node.name))
          : writeXml(child, [], scope);
  return `${out}</${node.name}>`;
}
