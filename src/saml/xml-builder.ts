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
  children?: (XmlNode | string)[];
}

export function el(
  name: XmlNode["name"],
  attributes: XmlNode["attributes"] = {},
  ...children: (XmlNode | string | undefined)[]
): XmlNode {
  return {
    name,
    attributes,
    children: children.filter((c): c is XmlNode | string => c !== undefined),
  };
}

// Characters XML 1.0 cannot carry at all, not even as character references. xmldom would write
// them out anyway; the document would then be refused by every strict parser (xmlsec1, libxml2),
// or worse, be signed over a value no verifier can read back.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

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
