import { deflateRawSync } from "node:zlib";
import { SAML } from "@node-saml/node-saml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CredentialStore } from "../../../src/adapters/k8s/credential-store.ts";
import { issueSetupToken } from "../../../src/identity/credentials.ts";
import type { buildPortalApp } from "../../../src/portal/app.ts";
import { certificateBase64 } from "../../../src/saml/signing-identity.ts";
import { operatorCrdFiles, storeUnderOlderCrd } from "../../harness/crds.ts";
import type { customObjects } from "../../harness/k8s.ts";
import { totpCode } from "../../harness/totp.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { xmlsecVerifies } from "../../harness/xmlsec.ts";
import { startPortalFixture } from "./fixture.ts";

const SIGN_IN = "https://signin.aws.amazon.com/saml";
const PORTAL = "http://127.0.0.1:8080";
const PASSWORD = "a long enough passphrase";
const WIKI_ENTITY = "https://wiki.example.com/saml";
const WIKI_ACS = "https://wiki.example.com/saml/acs";
const poll = { timeout: 20_000, interval: 100 };

type App = ReturnType<typeof buildPortalApp>;

/** A tiny browser: keeps the session cookie and reads CSRF tokens and forms from pages. */
class Client {
  cookie = "";
  private readonly app: App;
  constructor(app: App) {
    this.app = app;
  }
  async request(method: "GET" | "POST", url: string, form?: Record<string, string>) {
    const res = await this.app.inject({
      method,
      url,
      headers: {
        cookie: this.cookie,
        ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      ...(form ? { payload: new URLSearchParams(form).toString() } : {}),
    });
    const set = res.headers["set-cookie"];
    const first = Array.isArray(set) ? set[0] : set;
    if (first) this.cookie = first.split(";")[0] ?? "";
    return res;
  }
  static csrf(html: string): string {
    return /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
  }
  static field(html: string, name: string): string | undefined {
    const value = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)?.[1];
    return value?.replaceAll("&amp;", "&").replaceAll("&quot;", '"');
  }
}

/** An HTTP-Redirect AuthnRequest URL, unsigned, as anyone can make one. */
function authnRequest(issuer: string, options: { acs?: string; relayState?: string } = {}) {
  const xml = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_attacker1" Version="2.0" IssueInstant="${new Date().toISOString()}"${options.acs ? ` AssertionConsumerServiceURL="${options.acs}"` : ""}><saml:Issuer>${issuer}</saml:Issuer></samlp:AuthnRequest>`;
  const query = new URLSearchParams({ SAMLRequest: deflateRawSync(xml).toString("base64") });
  if (options.relayState) query.set("RelayState", options.relayState);
  return `/saml/sso?${query.toString()}`;
}

const samlResponseIn = (html: string) => Client.field(html, "SAMLResponse") ?? "";
const xmlOf = (samlResponse: string) => Buffer.from(samlResponse, "base64").toString();

/** node-saml as the wiki's service provider, trusting `idpCert`. */
const wikiSp = (idpCert: string) =>
  new SAML({
    callbackUrl: WIKI_ACS,
    idpCert,
    issuer: WIKI_ENTITY,
    audience: WIKI_ENTITY,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: 5 * 60_000,
  });

describe("per-application signing keys in the portal", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles(), moto: true });
  let fixture: Awaited<ReturnType<typeof startPortalFixture>>;
  let app: App;
  let objects: ReturnType<typeof customObjects>;
  let store: CredentialStore;
  let totpSecret = "";
  let clockOffset = 0;
  const portalNow = () => new Date(Date.now() + clockOffset);

  beforeAll(async () => {
    fixture = await startPortalFixture(env(), {
      externalUrl: PORTAL,
      signInUrl: SIGN_IN,
      now: portalNow,
    });
    ({ app, objects, store } = fixture);
    // Alice sets her password and authenticator through a setup link.
    let token = "";
    await store.update("alice", (r) => {
      const issued = issueSetupToken(r, portalNow().getTime());
      token = issued.token;
      return issued.record;
    });
    const client = new Client(app);
    const page = await client.request("GET", `/setup?user=alice&token=${token}`);
    totpSecret = /secret instead: <code>([A-Z2-7]+)<\/code>/.exec(page.body)?.[1] ?? "";
    const done = await client.request("POST", "/setup", {
      csrf: Client.csrf(page.body),
      user: "alice",
      token,
      password: PASSWORD,
      otp: totpCode(totpSecret, portalNow()),
    });
    if (done.statusCode !== 303) throw new Error(`setup failed: ${done.body}`);
  });
  afterAll(async () => {
    await fixture.stop();
  });

  async function signedIn(): Promise<Client> {
    const client = new Client(app);
    const login = await client.request("GET", "/login");
    await client.request("POST", "/login", {
      csrf: Client.csrf(login.body),
      username: "alice",
      password: PASSWORD,
    });
    const otp = await client.request("GET", "/login/otp");
    // Each code can be used once: move the portal's clock to the step after the last one used.
    const last = (await store.get("alice"))?.totpLastStep ?? Math.floor(Date.now() / 30_000);
    clockOffset = Math.max(clockOffset, (last + 1) * 30_000 + 15_000 - Date.now());
    const res = await client.request("POST", "/login/otp", {
      csrf: Client.csrf(otp.body),
      otp: totpCode(totpSecret, portalNow()),
    });
    if (res.statusCode !== 303) throw new Error(`sign-in failed: ${res.body}`);
    return client;
  }

  async function openApplication(client: Client, name: string) {
    const page = await client.request("GET", `/applications/${name}`);
    return client.request("POST", `/applications/${name}`, { csrf: Client.csrf(page.body) });
  }

  const statusOf = async (name: string) =>
    (await objects.get("applications", name)).status as {
      signingCertificate?: string;
      signingCertificateFingerprint?: string;
      metadataUrl?: string;
    };
  const applicationCertificate = async (name: string) => {
    await expect.poll(async () => (await statusOf(name)).signingCertificate, poll).toBeDefined();
    return String((await statusOf(name)).signingCertificate);
  };
  const instanceCertificate = async () =>
    String((await objects.get("identitycenters", "default")).status?.signingCertificate);

  it("signs an application's response with the application's own key, which AWS does not trust (minting AWS sign-ins)", async () => {
    const client = await signedIn();
    const wikiCert = await applicationCertificate("wiki");
    const instanceCert = await instanceCertificate();
    expect(wikiCert).not.toBe(instanceCert);

    const wiki = await openApplication(client, "wiki");
    expect(wiki.statusCode).toBe(200);
    const wikiXml = xmlOf(samlResponseIn(wiki.body));
    expect(await xmlsecVerifies(wikiXml, wikiCert)).toBe(true);
    const { profile } = await wikiSp(wikiCert).validatePostResponseAsync({
      SAMLResponse: samlResponseIn(wiki.body),
    });
    expect(profile?.nameID).toBe("alice@example.com");
    // What every AWS account's SAML provider trusts must not accept it.
    expect(await xmlsecVerifies(wikiXml, instanceCert)).toBe(false);
    await expect(
      wikiSp(instanceCert).validatePostResponseAsync({ SAMLResponse: samlResponseIn(wiki.body) }),
    ).rejects.toThrow(/signature/i);

    // A Response-signed application: its own key as well.
    const payrollCert = await applicationCertificate("payroll");
    const payroll = await openApplication(client, "payroll");
    const payrollXml = xmlOf(samlResponseIn(payroll.body));
    expect(await xmlsecVerifies(payrollXml, payrollCert, "Response")).toBe(true);
    expect(await xmlsecVerifies(payrollXml, instanceCert, "Response")).toBe(false);

    // AWS console sign-ins are still signed with the instance key, and only with it.
    const home = await client.request("GET", "/");
    const console = await client.request("POST", "/aws/console", {
      csrf: Client.csrf(home.body),
      account: "production",
      permissionSet: "read-only",
    });
    const consoleXml = xmlOf(samlResponseIn(console.body));
    expect(await xmlsecVerifies(consoleXml, instanceCert)).toBe(true);
    expect(await xmlsecVerifies(consoleXml, wikiCert)).toBe(false);
  });

  it("publishes each application's own certificate in its own metadata", async () => {
    const wikiCert = await applicationCertificate("wiki");
    expect((await statusOf("wiki")).metadataUrl).toBe(`${PORTAL}/applications/wiki/saml/metadata`);
    const metadata = await app.inject({ method: "GET", url: "/applications/wiki/saml/metadata" });
    expect(metadata.statusCode).toBe(200);
    expect(metadata.headers["content-type"]).toContain("application/samlmetadata+xml");
    expect(metadata.body).toContain(certificateBase64(wikiCert));
    expect(metadata.body).not.toContain(certificateBase64(await instanceCertificate()));
    expect(metadata.body).toContain(`Location="${PORTAL}/saml/sso"`);
    const unknown = await app.inject({ method: "GET", url: "/applications/nope/saml/metadata" });
    expect(unknown.statusCode).toBe(404);
  });

  it("after a rotation signs with the new key only, and the metadata says so", async () => {
    const before = await applicationCertificate("wiki");
    const annotated = await env().apiServer.request(
      "PATCH",
      "/apis/identitycenter.dev/v1alpha1/applications/wiki",
      { metadata: { annotations: { "identitycenter.dev/rotate-signing-key": "rotation-1" } } },
      { contentType: "application/merge-patch+json" },
    );
    expect(annotated.status).toBe(200);
    await expect
      .poll(async () => (await statusOf("wiki")).signingCertificate, poll)
      .not.toBe(before);
    const after = await applicationCertificate("wiki");
    const client = await signedIn();
    const wiki = await openApplication(client, "wiki");
    const xml = xmlOf(samlResponseIn(wiki.body));
    expect(await xmlsecVerifies(xml, after)).toBe(true);
    expect(await xmlsecVerifies(xml, before)).toBe(false);
    const metadata = await app.inject({ method: "GET", url: "/applications/wiki/saml/metadata" });
    expect(metadata.body).toContain(certificateBase64(after));
    expect(metadata.body).not.toContain(certificateBase64(before));
  });

  it("refuses to sign for an Application stored before the CRD refused it (minting AWS sign-ins)", async () => {
    await storeUnderOlderCrd(
      env(),
      {
        crdName: "applications.identitycenter.dev",
        collectionPath: "/apis/identitycenter.dev/v1alpha1/applications",
        drop: /AWS sign-in/,
      },
      {
        apiVersion: "identitycenter.dev/v1alpha1",
        kind: "Application",
        metadata: { name: "aws-admin" },
        spec: {
          displayName: "AWS admin",
          entityId: "urn:amazon:webservices",
          acsUrl: SIGN_IN,
          attributeMappings: [
            {
              name: "https://aws.amazon.com/SAML/Attributes/Role",
              value:
                "arn:aws:iam::111111111111:role/identitycenter/Admin,arn:aws:iam::111111111111:saml-provider/IdentityCenterOperator_default",
            },
            { name: "https://aws.amazon.com/SAML/Attributes/RoleSessionName", value: "alice" },
          ],
        },
      },
    );
    await objects.create("applicationassignments", "ApplicationAssignment", "alice-aws-admin", {
      principal: { kind: "User", name: "alice" },
      application: "aws-admin",
    });
    const client = await signedIn();
    await expect
      .poll(async () => (await client.request("GET", "/")).body, poll)
      .toContain('data-application="aws-admin"');
    const res = await openApplication(client, "aws-admin");
    expect(res.statusCode).toBe(403);
    expect(res.body).not.toContain("SAMLResponse");
    expect(res.body).toContain("AWS sign-in");
    const sso = await client.request("GET", authnRequest("urn:amazon:webservices"));
    expect(sso.body).not.toContain("SAMLResponse");
    expect(sso.statusCode).toBeGreaterThanOrEqual(400);
    const metadata = await app.inject({
      method: "GET",
      url: "/applications/aws-admin/saml/metadata",
    });
    expect(metadata.statusCode).toBe(404);
  });

  it("refuses an AuthnRequest whose issuer two Applications claim (first match wins)", async () => {
    // The CRD cannot refuse it (uniqueness needs the other objects): the controller reports
    // both, and the portal must not pick one.
    await objects.create("applications", "Application", "wiki-twin", {
      displayName: "Wiki twin",
      entityId: WIKI_ENTITY,
      acsUrl: "https://attacker.example.com/acs",
    });
    await objects.create("applicationassignments", "ApplicationAssignment", "alice-wiki-twin", {
      principal: { kind: "User", name: "alice" },
      application: "wiki-twin",
    });
    const client = await signedIn();
    await expect
      .poll(async () => (await client.request("GET", "/")).body, poll)
      .toContain('data-application="wiki-twin"');
    const res = await client.request("GET", authnRequest(WIKI_ENTITY));
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain("More than one application");
    expect(res.body).not.toContain("SAMLResponse");
    expect(res.body).not.toContain("attacker.example.com");
    await objects.delete("applications", "wiki-twin");
    await expect
      .poll(async () => (await client.request("GET", authnRequest(WIKI_ENTITY))).statusCode, poll)
      .toBe(200);
  });

  it("asks for a click before answering an unsigned AuthnRequest (login CSRF with the attacker's RelayState)", async () => {
    const client = await signedIn();
    const relayState = "https://attacker.example.com/after-login";
    const page = await client.request("GET", authnRequest(WIKI_ENTITY, { relayState }));
    expect(page.statusCode).toBe(200);
    // No signed response, no script that submits anything: a page that names the application.
    expect(page.body).not.toContain("SAMLResponse");
    expect(page.body).not.toContain(".submit()");
    expect(page.body).toContain("Team wiki");
    expect(page.body).toContain('action="/saml/sso/continue"');
    // Without the page's CSRF token the click does nothing.
    const forged = await client.request("POST", "/saml/sso/continue", {
      SAMLRequest: Client.field(page.body, "SAMLRequest") ?? "",
      RelayState: relayState,
    });
    expect(forged.statusCode).toBe(403);
    expect(forged.body).not.toContain("SAMLResponse");
    // The user's click: the response to the request, at the registered ACS URL.
    const clicked = await client.request("POST", "/saml/sso/continue", {
      csrf: Client.csrf(page.body),
      SAMLRequest: Client.field(page.body, "SAMLRequest") ?? "",
      RelayState: Client.field(page.body, "RelayState") ?? "",
    });
    expect(clicked.statusCode).toBe(200);
    expect(clicked.body).toContain(`action="${WIKI_ACS}"`);
    expect(Client.field(clicked.body, "RelayState")).toBe(relayState);
    const xml = xmlOf(samlResponseIn(clicked.body));
    expect(xml).toContain('InResponseTo="_attacker1"');
    expect(await xmlsecVerifies(xml, await applicationCertificate("wiki"))).toBe(true);
  });

  it("does not echo the request's issuer or ACS URL on error pages", async () => {
    const client = await signedIn();
    const unknown = await client.request("GET", authnRequest("https://evil.example.com/issuer"));
    expect(unknown.statusCode).toBe(400);
    expect(unknown.body).not.toContain("evil.example.com");
    const foreignAcs = await client.request(
      "GET",
      authnRequest(WIKI_ENTITY, { acs: "https://evil.example.com/acs" }),
    );
    expect(foreignAcs.statusCode).toBe(400);
    expect(foreignAcs.body).not.toContain("evil.example.com");
    expect(foreignAcs.body).toContain("not registered");
  });
});
