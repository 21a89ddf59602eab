import { createHash, createPrivateKey } from "node:crypto";
import { SAML } from "@node-saml/node-saml";
import { DOMParser } from "@xmldom/xmldom";
import { ExclusiveCanonicalization, SignedXml } from "xml-crypto";
import { describe, expect, it } from "vitest";
import { AWS_AUDIENCE, awsSignInAttributes } from "./aws-sign-in.ts";
import {
  buildResponse,
  buildResponseDocument,
  buildSignedResponse,
  buildSignedResponseOffLoop,
  signedFromText,
  signedFromTree,
  type ResponseInput,
} from "./response.ts";
import {
  canonicalize,
  canonicalSignedInfo,
  signedInfoOf,
  signElement,
  signInDocument,
} from "./sign.ts";
import { certificateBase64, createSigningIdentity } from "./signing-identity.ts";
import { canonicalXml, NS, serialize } from "./xml-builder.ts";

const SIGN_IN = "https://signin.aws.amazon.com/saml";
const identity = createSigningIdentity("sso.example.com", new Date());
const key = {
  privateKey: createPrivateKey(identity.privateKeyPem),
  certificateBase64: certificateBase64(identity.certificatePem),
};

// Markup, quotes, a CDATA end, an entity that must stay literal, characters outside ASCII and
// the BMP, and the whitespace a parser would normalize if it were written raw.
const HOSTILE = `<script>alert("x")</script> ' " ]]> &amp; & R&D Zoë 東京 🙂 \r\n line\ttab\rend`;

function input(overrides: Partial<ResponseInput> = {}): ResponseInput {
  return {
    issuer: "https://sso.example.com/saml/metadata",
    destination: SIGN_IN,
    audience: AWS_AUDIENCE,
    nameId: "u-7f3a9c",
    nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    now: new Date(),
    inResponseTo: "_request-1",
    attributes: [
      ...awsSignInAttributes({
        roleArn:
          "arn:aws:iam::111111111111:role/identitycenter/IdC_ReadOnlyAccess_0123456789abcdef",
        samlProviderArn: "arn:aws:iam::111111111111:saml-provider/IdentityCenterOperator_default",
        roleSessionName: "alice@example.com",
        sessionDurationSeconds: 3600,
        principalTags: { Department: HOSTILE },
      }),
      { name: "displayName", values: [HOSTILE] },
      { name: `attr "<&>"\n\t`, values: ["", HOSTILE, "plain"] },
    ],
    ...overrides,
  };
}

const parse = (xml: string) => new DOMParser().parseFromString(xml, "text/xml");
const only = (doc: Document, ns: string, name: string) => {
  const found = doc.getElementsByTagNameNS(ns, name);
  expect(found.length).toBe(1);
  return found.item(0) as Element;
};

/** xml-crypto's own verifier, trusting only the IdP certificate. */
function xmlCryptoVerifies(xml: string): { valid: boolean; signedAssertion?: string } {
  const verifier = new SignedXml({ publicCert: identity.certificatePem });
  verifier.loadSignature(only(parse(xml), NS.ds, "Signature"));
  try {
    const valid = verifier.checkSignature(xml);
    return { valid, signedAssertion: verifier.getSignedReferences()[0] };
  } catch {
    return { valid: false };
  }
}

/** How this module signed before: xml-crypto's SignedXml on the serialized document. */
function xmlCryptoSign(xml: string, element: "Assertion" | "Response"): string {
  const signer = new SignedXml({
    privateKey: key.privateKey,
    signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    canonicalizationAlgorithm: "http://www.w3.org/2001/10/xml-exc-c14n#",
    getKeyInfoContent: () =>
      `<ds:X509Data><ds:X509Certificate>${key.certificateBase64}</ds:X509Certificate></ds:X509Data>`,
  });
  const ns = element === "Assertion" ? NS.saml : NS.samlp;
  const target = `//*[local-name(.)='${element}' and namespace-uri(.)='${ns}']`;
  signer.addReference({
    xpath: target,
    transforms: [
      "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
      "http://www.w3.org/2001/10/xml-exc-c14n#",
    ],
    digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256",
  });
  signer.computeSignature(xml, {
    prefix: "ds",
    location: { reference: `${target}/*[local-name(.)='Issuer']`, action: "after" },
  });
  return signer.getSignedXml();
}

describe("signing the built assertion", () => {
  it("is verified by xml-crypto, and the digested bytes are xml-crypto's C14N of the parsed assertion", () => {
    const { doc } = buildResponseDocument(input());
    const built = only(doc, NS.saml, "Assertion");
    const ours = canonicalize(built);
    signInDocument(doc, key, "Assertion");
    const xml = serialize(doc);

    expect(xml).not.toContain("<script>");
    const { valid, signedAssertion } = xmlCryptoVerifies(xml);
    expect(valid).toBe(true);

    // What any verifier sees: the serialized document parsed again, the enveloped Signature
    // removed, canonicalized by xml-crypto. It must be byte for byte what we digested from the
    // DOM we built, or escaping, whitespace or namespaces changed on the way.
    const parsed = only(parse(xml), NS.saml, "Assertion");
    const signature = only(parsed.ownerDocument, NS.ds, "Signature");
    parsed.removeChild(signature);
    const theirs = new ExclusiveCanonicalization().process(parsed, {});
    expect(theirs).toBe(ours);
    expect(signedAssertion).toBe(ours);
    expect(only(parse(xml), NS.ds, "DigestValue").textContent).toBe(
      createHash("sha256").update(ours, "utf8").digest("base64"),
    );
    // The values survived the round trip exactly.
    expect(parsed.getElementsByTagNameNS(NS.saml, "AttributeValue").item(0)?.textContent).toMatch(
      /^arn:aws:iam::111111111111:role\//,
    );
    const values = [...Array.from(parsed.getElementsByTagNameNS(NS.saml, "AttributeValue"))].map(
      (v) => v.textContent,
    );
    expect(values.filter((v) => v === HOSTILE)).toHaveLength(3);
  });

  it.each([
    { order: ["Assertion"] as const },
    { order: ["Response"] as const },
    // What an application that wants both gets: the Response's signature covers the Assertion's.
    { order: ["Assertion", "Response"] as const },
  ])("gives byte for byte what xml-crypto's SignedXml makes: $order", ({ order }) => {
    // RSA PKCS#1 v1.5 is deterministic, so the whole signed document must be identical.
    let ours = buildResponse(input()).xml;
    let reference = ours;
    for (const element of order) {
      ours = signElement(ours, key, element);
      reference = xmlCryptoSign(reference, element);
    }
    expect(ours).toBe(reference);
  });

  it("signs the tree as signInDocument signs the parsed DOM: the same digest of xml-crypto's C14N, the same signature, on and off the event loop", async () => {
    const values = (doc: Document) =>
      ["DigestValue", "SignatureValue"].map((name) => only(doc, NS.ds, name).textContent);
    for (const { xml } of [
      buildSignedResponse(input(), key),
      await buildSignedResponseOffLoop(input(), key),
    ]) {
      expect(xmlCryptoVerifies(xml).valid).toBe(true);
      const doc = parse(xml);
      const fromTree = values(doc);
      const signature = only(doc, NS.ds, "Signature");
      signature.parentNode?.removeChild(signature);
      signInDocument(doc, key, "Assertion");
      expect(values(doc)).toEqual(fromTree);
    }
  });

  it("puts an enveloped ds:Signature right after the Assertion's Issuer", () => {
    const { xml, assertionId } = buildSignedResponse(input(), key);
    const assertion = only(parse(xml), NS.saml, "Assertion");
    const children = Array.from(assertion.childNodes).filter((n) => n.nodeType === 1);
    expect(children.map((n) => (n as Element).tagName).slice(0, 3)).toEqual([
      "saml:Issuer",
      "ds:Signature",
      "saml:Subject",
    ]);
    const signature = children[1] as Element;
    const algorithms = Array.from(signature.getElementsByTagNameNS(NS.ds, "*"))
      .map((e) => e.getAttribute("Algorithm"))
      .filter(Boolean);
    expect(algorithms).toEqual([
      "http://www.w3.org/2001/10/xml-exc-c14n#",
      "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
      "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
      "http://www.w3.org/2001/10/xml-exc-c14n#",
      "http://www.w3.org/2001/04/xmlenc#sha256",
    ]);
    expect(only(parse(xml), NS.ds, "Reference").getAttribute("URI")).toBe(`#${assertionId}`);
    expect(only(parse(xml), NS.ds, "X509Certificate").textContent).toBe(key.certificateBase64);
  });

  it("is accepted by node-saml as a service provider, values intact", async () => {
    const { xml } = buildSignedResponse(input({ inResponseTo: undefined }), key);
    const sp = new SAML({
      callbackUrl: SIGN_IN,
      idpCert: identity.certificatePem,
      issuer: AWS_AUDIENCE,
      audience: AWS_AUDIENCE,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
    });
    const { profile } = await sp.validatePostResponseAsync({
      SAMLResponse: Buffer.from(xml).toString("base64"),
    });
    expect(profile?.displayName).toBe(HOSTILE);
    expect(profile?.["https://aws.amazon.com/SAML/Attributes/PrincipalTag:Department"]).toBe(
      HOSTILE,
    );
  });

  it("fails verification once a signed value is changed", () => {
    const { xml } = buildSignedResponse(input(), key);
    expect(xmlCryptoVerifies(xml).valid).toBe(true);
    const tampered = xml.replace("IdC_ReadOnlyAccess", "IdC_AdministratorAccess");
    expect(tampered).not.toBe(xml);
    expect(xmlCryptoVerifies(tampered).valid).toBe(false);
  });

  it("writes the SignedInfo from its template exactly as the tree canonicalizes it, alone and inside ds:Signature", () => {
    const digest = createHash("sha256").update("x").digest("base64");
    for (const id of ["_0a1b2c", `_a"&<b`]) {
      expect(canonicalSignedInfo(id, digest, true)).toBe(canonicalXml(signedInfoOf(id, digest)));
      expect(canonicalSignedInfo(id, digest, false)).toBe(
        canonicalXml(signedInfoOf(id, digest), new Map([["ds", NS.ds]])),
      );
    }
  });

  it("writes the signed response from its template byte for byte as from the tree, for hostile, empty and missing values", () => {
    const later = new Date(Date.now() + 3_600_000);
    const cases: Partial<ResponseInput>[] = [
      {},
      { inResponseTo: undefined },
      { inResponseTo: "" },
      { attributes: [] },
      { attributes: [{ name: "no values", values: [] }] },
      { issuer: "", nameId: "", audience: "", destination: "" },
      {
        issuer: HOSTILE,
        destination: HOSTILE,
        audience: HOSTILE,
        nameId: HOSTILE,
        nameIdFormat: HOSTILE,
        inResponseTo: HOSTILE,
        authnContextClassRef: HOSTILE,
      },
      { authnInstant: new Date(0), sessionNotOnOrAfter: later, validForSeconds: 60 },
      { attributes: [{ name: HOSTILE, nameFormat: HOSTILE, values: [HOSTILE, ""] }] },
    ];
    for (const overrides of cases) {
      // One input for both: its `now` is part of the bytes.
      const given = input(overrides);
      for (const [responseId, assertionId] of [
        ["_r1", "_a1"],
        [`_r"&<`, `_a"&<\t`],
      ] as const) {
        const fromText = signedFromText(given, key, responseId, assertionId);
        const fromTree = signedFromTree(given, key, responseId, assertionId);
        expect(fromText?.xml).toBe(fromTree.xml);
      }
    }
    expect(xmlCryptoVerifies(buildSignedResponse(input(), key).xml).valid).toBe(true);
  });

  it("refuses what it cannot sign safely", () => {
    expect(() => buildSignedResponse(input({ issuer: "nul\u0000" }), key)).toThrow(
      /saml:Issuer contains a character XML cannot carry/,
    );
    expect(() =>
      buildSignedResponse(input({ attributes: [{ name: "x\u0001", values: [] }] }), key),
    ).toThrow(/saml:Attribute@Name contains a character XML cannot carry/);
    expect(() =>
      buildSignedResponse(input({ attributes: [{ name: "x", values: ["nul\u0000"] }] }), key),
    ).toThrow(/XML cannot carry/);
    const { xml } = buildSignedResponse(input(), key);
    expect(() => signElement(xml, key, "Assertion")).toThrow(/already signed/);
    const twice = xml.replace(/(<saml:Assertion[\s\S]*<\/saml:Assertion>)/, "$1$1");
    expect(() => signElement(twice, key, "Assertion")).toThrow(/exactly one/);
  });
});
