import { DOMImplementation, XMLSerializer } from "@xmldom/xmldom";

type Document = ReturnType<DOMImplementation["createDocument"]>;
type Element = ReturnType<Document["createElementNS"]>;

export const NS = {
  samlp: "urn:oasis:names:tc:SAML:2.0:protocol",
  saml: "urn:oasis:names:tc:SAML:2.0:assertion",
  xs: "http://www.w3.org/2001/XMLSchema",
  xsi: "http://www.w3.org/2001/XMLSchema-instance",
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

function build(doc: Document, node: XmlNode): Element {
  const prefix = node.name.split(":")[0] as Prefix;
  const element = doc.createElementNS(NS[prefix], node.name);
  for (const [key, value] of Object.entries(node.attributes ?? {})) {
    if (value === undefined) continue;
    if (key.startsWith("xmlns:"))
      element.setAttributeNS("http://www.w3.org/2000/xmlns/", key, value);
    else if (key.includes(":")) element.setAttributeNS(NS[key.split(":")[0] as Prefix], key, value);
    else element.setAttribute(key, value);
  }
  for (const child of node.children ?? []) {
    element.appendChild(typeof child === "string" ? doc.createTextNode(child) : build(doc, child));
  }
  return element;
}

/** Serializes a tree; the root declares the namespaces so descendants use prefixes only. */
export function toXml(root: XmlNode, declare: Prefix[]): string {
  const doc = new DOMImplementation().createDocument(null, null, null);
  const element = build(doc, root);
  for (const prefix of declare)
    element.setAttributeNS("http://www.w3.org/2000/xmlns/", `xmlns:${prefix}`, NS[prefix]);
  doc.appendChild(element);
  return new XMLSerializer().serializeToString(doc);
}
