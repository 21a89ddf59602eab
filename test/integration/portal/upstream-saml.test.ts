import { createPrivateKey } from "node:crypto";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { DOMParser } from "@xmldom/xmldom";
import { SAML } from "@node-saml/node-saml";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANAGED_BY_IDENTITY_SOURCE, MANAGED_BY_SOURCE_LABEL } from "../../../src/plan/naming.ts";
import { signElement } from "../../../src/saml/sign.ts";
import { certificateBase64, createSigningIdentity } from "../../../src/saml/signing-identity.ts";
import { serialize } from "../../../src/saml/xml-builder.ts";
import { launchChromium } from "../../harness/browser.ts";
import { startConsoleStandIn, type ConsoleStandIn } from "../../harness/console-stand-in.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { freePort } from "../../harness/ports.ts";
import { startSimpleSamlPhp, type SimpleSamlPhp } from "../../harness/simplesamlphp.ts";
import { totpCode } from "../../harness/totp.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { waitFor } from "../../harness/wait.ts";
import { xmlsecVerifies } from "../../harness/xmlsec.ts";
import { Client } from "./client.ts";
import { A, B, startPortalFixture } from "./fixture.ts";

const MFA = "https://refeds.org/profile/mfa";
const TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const OTHER_SP = "urn:example:another-service";

/** A browser's side of SimpleSAMLphp: follows its redirects and fills in its login form. */
class UpstreamBrowser {
  private readonly cookies = new Map<string, string>();

  private async fetch(url: string, form?: Record<string, string>) {
    const response = await fetch(url.replace("//localhost:", "//127.0.0.1:"), {
      method: form ? "POST" : "GET",
      redirect: "manual",
      headers: {
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
        ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair?.indexOf("=") ?? -1;
      if (pair && eq > 0) this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return response;
  }

  /** Signs in at the IdP from `url` on and returns the SAMLResponse it posts to the SP. */
  async signIn(url: string, user: { userName: string; password: string }): Promise<string> {
    let next: { url: string; form?: Record<string, string> } = { url };
    for (let hop = 0; hop < 10; hop++) {
      const response = await this.fetch(next.url, next.form);
      const location = response.headers.get("location");
      if (location) {
        next = { url: new URL(location, next.url).toString() };
        continue;
      }
      const html = await response.text();
      const saml = /name="SAMLResponse" value="([^"]+)"/.exec(html)?.[1];
      if (saml) return saml;
      const authState = /name="AuthState" value="([^"]+)"/.exec(html)?.[1];
      if (!authState) throw new Error(`no login form at ${next.url}: ${html.slice(0, 300)}`);
      next = {
        url: next.url,
        form: {
          AuthState: authState.replace(/&amp;/g, "&"),
          username: user.userName,
          password: user.password,
        },
      };
    }
    throw new Error("SimpleSAMLphp did not answer with a SAMLResponse");
  }
}

const decode = (samlResponse: string) => Buffer.from(samlResponse, "base64").toString("utf8");
const encode = (xml: string) => Buffer.from(xml).toString("base64");

/** The response with every signature removed and `edit` applied to its XML document. */
function tampered(samlResponse: string, edit: (doc: Document) => void = () => {}): string {
  const doc = new DOMParser().parseFromString(decode(samlResponse), "text/xml");
  for (const signature of Array.from(
    doc.getElementsByTagNameNS("http://www.w3.org/2000/09/xmldsig#", "Signature"),
  ))
    signature.parentNode?.removeChild(signature);
  edit(doc);
  return serialize(doc);
}

const keyOf = (pem: { privateKeyPem: string; certificatePem: string }) => ({
  privateKey: createPrivateKey(pem.privateKeyPem),
  certificateBase64: certificateBase64(pem.certificatePem),
});

// The controller reads SimpleSAMLphp's metadata by URL over https (a TLS front with a test CA,
// trusted through --upstream-ca-file). alice and dave exist here; mallory and carol only
// upstream. carol's upstream groups: "eng" (mapped to engineering, which grants Staging) and
// "admins" (mapped to the Group admins that Git owns, so never changed by a claim).
describe("sign-in through an upstream SAML IdP (SimpleSAMLphp)", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles(), moto: true });
  let fixture: Awaited<ReturnType<typeof startPortalFixture>>;
  let idp: SimpleSamlPhp;
  let standIn: ConsoleStandIn;
  let browser: Browser;
  let portalUrl = "";
  let entityId = "";
  let acsUrl = "";
  const users = {
    alice: { userName: "alice", password: "alice-upstream-pw", email: "alice@example.com" },
    dave: { userName: "Dave", password: "dave-upstream-pw", email: "dave@example.com" },
    mallory: { userName: "mallory", password: "mallory-pw", email: "mallory@example.com" },
    carol: { userName: "carol", password: "carol-pw", email: "carol@example.com" },
  };

  /** A portal client that started a sign-in, and the IdP's signed answer to it. */
  async function answeredSignIn(user: { userName: string; password: string }) {
    const client = new Client(fixture.app);
    const start = await client.request("GET", "/upstream/saml/start");
    expect(start.statusCode).toBe(303);
    const samlResponse = await new UpstreamBrowser().signIn(start.headers.location as string, user);
    return { client, samlResponse };
  }

  const postToAcs = (client: Client, samlResponse: string) =>
    client.request("POST", "/upstream/saml/acs", { SAMLResponse: samlResponse });

  beforeAll(async () => {
    standIn = await startConsoleStandIn({ stsEndpoint: env().moto.endpoint });
    const port = await freePort();
    portalUrl = `http://127.0.0.1:${String(port)}`;
    entityId = `${portalUrl}/upstream/saml/metadata`;
    acsUrl = `${portalUrl}/upstream/saml/acs`;
    idp = await startSimpleSamlPhp({
      workDir: env().workDir,
      // The other service shares our ACS URL: its assertions reach us with its audience.
      serviceProviders: [
        { entityId, acsUrl },
        { entityId: OTHER_SP, acsUrl },
      ],
      users: [
        { ...users.alice, authnContext: MFA },
        users.dave,
        users.mallory,
        { ...users.carol, groups: ["eng", "admins"], authnContext: MFA },
      ],
    });
    fixture = await startPortalFixture(env(), {
      externalUrl: portalUrl,
      signInUrl: standIn.url,
      now: () => new Date(),
      identitySource: {
        type: "saml",
        saml: {
          metadataUrl: idp.httpsMetadataUrl,
          userNameAttribute: "uid",
          emailAttribute: "mail",
          groupsAttribute: "groups",
        },
        jitProvisioning: false,
        groupMapping: {
          sameName: false,
          mappings: [
            { upstream: "eng", group: "engineering" },
            { upstream: "admins", group: "admins" },
          ],
        },
      },
      controllerArgs: [`--upstream-ca-file=${idp.caFile}`],
    });
    await fixture.objects.create("users", "User", "dave", {
      userName: "dave",
      email: "dave@example.com",
    });
    await fixture.objects.create("accountassignments", "AccountAssignment", "engineering-ro", {
      principal: { kind: "Group", name: "engineering" },
      permissionSet: "read-only",
      accounts: ["staging"],
    });
    // A Group the identity source made earlier, which carol's claims no longer name.
    await fixture.objects.createLabelled(
      "groups",
      "Group",
      { name: "contractors", labels: { [MANAGED_BY_SOURCE_LABEL]: MANAGED_BY_IDENTITY_SOURCE } },
      { members: ["carol"] },
    );
    // The credential store finds a record's owner in the portal's cache.
    await waitFor("the portal's cache to see dave", () =>
      Promise.resolve(fixture.stores.directory.validUserFor("dave") !== undefined),
    );
    // Both have an authenticator here: only the upstream's MFA lets alice skip it.
    for (const name of ["alice", "dave"])
      await fixture.store.update(name, (r) => ({ ...r, totpSecret: TOTP_SECRET }));
    await waitFor("the controller to trust the upstream IdP's metadata", async () => {
      const ic = await fixture.objects.get("identitycenters", "default");
      return (
        (ic.status?.upstreamSaml as { entityId?: string } | undefined)?.entityId === idp.entityId
      );
    });
    await waitFor("the portal's cache to see dave and the IdP", () => {
      const ic = fixture.stores.identityCenters.informer.get("default");
      return Promise.resolve(
        !!ic?.status?.upstreamSaml && !!fixture.stores.users.informer.get("dave"),
      );
    });
    await fixture.app.listen({ host: "127.0.0.1", port });
    browser = await launchChromium();
  });
  // What beforeAll did start is stopped even when it failed half-way (no process outlives it).
  afterAll(async () => {
    const started = { browser, fixture, idp, standIn } as Partial<{
      browser: Browser;
      fixture: typeof fixture;
      idp: typeof idp;
      standIn: ConsoleStandIn;
    }>;
    await started.browser?.close();
    await started.fixture?.stop();
    await started.idp?.stop();
    await started.standIn?.close();
  });

  it("reads the IdP's metadata by URL over https (IdentitySourceReady) and publishes what the admin registers upstream: SP entity id, ACS URL and SP metadata", async () => {
    const ic = await fixture.objects.get("identitycenters", "default");
    expect(ic.status?.endpoints).toMatchObject({
      upstreamSamlEntityId: entityId,
      upstreamSamlAcsUrl: acsUrl,
      upstreamSamlMetadataUrl: entityId,
    });
    const conditions = ic.status?.conditions as { type: string; status: string; reason: string }[];
    expect(conditions.find((c) => c.type === "IdentitySourceReady")).toMatchObject({
      status: "True",
      reason: "MetadataRead",
    });
    expect(ic.status?.upstreamSaml).toMatchObject({
      entityId: idp.entityId,
      source: idp.httpsMetadataUrl,
    });
    const metadata = await fetch(entityId);
    expect(metadata.status).toBe(200);
    const xml = await metadata.text();
    expect(xml).toContain(`entityID="${entityId}"`);
    expect(xml).toContain(`Location="${acsUrl}"`);
    expect(xml).toContain('WantAssertionsSigned="true"');
  });

  it("Chromium: portal -> SimpleSAMLphp login -> back -> accounts -> console SAML verified by xmlsec1; upstream MFA skips our TOTP", async () => {
    // The console stand-in serves https with a certificate of its own.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(`${portalUrl}/login`);
    // The sign-in page offers the configured upstream; its button leads there.
    await page.click("#upstream-sign-in");
    // The upstream's own login page (another site than the portal).
    await page.waitForURL((url) => url.host === new URL(idp.url).host);
    await page.fill('input[name="username"]', users.alice.userName);
    await page.fill('input[name="password"]', users.alice.password);
    await page.click('button[type="submit"], input[type="submit"]');
    await page.waitForURL(`${portalUrl}/`);
    await expect(page.locator("section.account h2").allTextContents()).resolves.toEqual([
      `Production ${A}`,
    ]);
    await page
      .locator('[data-account="production"] [data-permission-set="read-only"] button', {
        hasText: "Management console",
      })
      .click();
    await page.waitForSelector("text=Signed in to AWS (stand-in)");
    expect(await page.locator("#arn").textContent()).toMatch(
      new RegExp(`^arn:aws:sts::${A}:assumed-role/IdC_ReadOnlyAccess_[0-9a-f]{16}/alice$`),
    );
    const posted = new URLSearchParams(
      standIn.received.findLast((body) => body.startsWith("SAMLResponse=")) ?? "",
    );
    const xml = decode(posted.get("SAMLResponse") ?? "");
    expect(await xmlsecVerifies(xml, fixture.certificatePem)).toBe(true);
    // The upstream's MFA is reported on to AWS as ours would be.
    expect(xml).toContain(MFA);
    await context.close();
  });

  it("asks for our TOTP when the upstream reports no MFA, and matches the userName ignoring case", async () => {
    const { client, samlResponse } = await answeredSignIn(users.dave);
    const answered = await postToAcs(client, samlResponse);
    expect(answered.statusCode).toBe(303);
    expect(answered.headers.location).toBe("/login/otp");
    const otp = await client.request("GET", "/login/otp");
    const done = await client.request("POST", "/login/otp", {
      csrf: Client.csrf(otp.body),
      otp: totpCode(TOTP_SECRET, new Date()),
    });
    expect(done.headers.location).toBe("/");
    expect((await client.request("GET", "/")).body).toContain("dave");
  });

  it("refuses an upstream user who has no User here, with a page that says so", async () => {
    const { client, samlResponse } = await answeredSignIn(users.mallory);
    const refused = await postToAcs(client, samlResponse);
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain("there is no user with your user name here");
    expect((await client.request("GET", "/")).statusCode).not.toBe(200);
  });

  it("refuses a replayed assertion (the same response posted twice, even by the same browser)", async () => {
    const { client, samlResponse } = await answeredSignIn(users.alice);
    const replay = client.copy();
    expect((await postToAcs(client, samlResponse)).headers.location).toBe("/");
    const again = await postToAcs(replay, samlResponse);
    expect(again.statusCode).toBe(401);
    expect(again.body).toContain("already used");
  });

  it("refuses an unsigned assertion", async () => {
    const { client, samlResponse } = await answeredSignIn(users.alice);
    const refused = await postToAcs(client, encode(tampered(samlResponse)));
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toContain("not signed by the identity provider");
  });

  it("refuses an assertion signed by another key (a forged sign-in as alice)", async () => {
    const { client, samlResponse } = await answeredSignIn(users.mallory);
    const forger = createSigningIdentity("forger", new Date());
    const forged = signElement(
      tampered(samlResponse, (doc) => {
        for (const v of Array.from(doc.getElementsByTagName("saml:AttributeValue")))
          if (v.textContent === "mallory") v.textContent = "alice";
      }),
      keyOf(forger),
      "Assertion",
    );
    const refused = await postToAcs(client, encode(forged));
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toContain("not signed by the identity provider");
  });

  it("refuses an expired assertion, even correctly signed", async () => {
    const { client, samlResponse } = await answeredSignIn(users.alice);
    const past = new Date(Date.now() - 3600_000).toISOString();
    const expired = signElement(
      tampered(samlResponse, (doc) => {
        for (const name of ["saml:Conditions", "saml:SubjectConfirmationData"])
          for (const e of Array.from(doc.getElementsByTagName(name)))
            e.setAttribute("NotOnOrAfter", past);
      }),
      keyOf(idp),
      "Assertion",
    );
    const refused = await postToAcs(client, encode(expired));
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toContain("expired");
  });

  it("refuses an assertion for another audience (the IdP's signed answer to another service)", async () => {
    const client = new Client(fixture.app);
    const start = await client.request("GET", "/upstream/saml/start");
    // The same request ID, sent by "another service": the IdP's answer is addressed to it.
    const ours = new URL(start.headers.location as string);
    const request = decodeRequest(ours.searchParams.get("SAMLRequest") ?? "").replace(
      new RegExp(`>${entityId}<`),
      `>${OTHER_SP}<`,
    );
    ours.searchParams.set("SAMLRequest", deflateRawSync(request).toString("base64"));
    const samlResponse = await new UpstreamBrowser().signIn(ours.toString(), users.alice);
    expect(decode(samlResponse)).toContain(`<saml:Audience>${OTHER_SP}</saml:Audience>`);
    const refused = await postToAcs(client, samlResponse);
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toContain("meant for another service");
  });

  it("refuses an unsolicited response (IdP-initiated, no InResponseTo)", async () => {
    const client = new Client(fixture.app);
    await client.request("GET", "/upstream/saml/start");
    const samlResponse = await new UpstreamBrowser().signIn(
      `${idp.url}/saml2/idp/SSOService.php?spentityid=${encodeURIComponent(entityId)}`,
      users.alice,
    );
    expect(decode(samlResponse)).not.toContain("InResponseTo");
    const refused = await postToAcs(client, samlResponse);
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toContain("does not answer a sign-in started in this browser");
  });

  it("refuses a response to another browser's request (wrong InResponseTo: login CSRF)", async () => {
    const attacker = await answeredSignIn(users.mallory);
    const victim = new Client(fixture.app);
    await victim.request("GET", "/upstream/saml/start");
    const refused = await postToAcs(victim, attacker.samlResponse);
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toContain("does not answer a sign-in started in this browser");
  });

  it("JIT-creates carol (owned by the identity source) with jitProvisioning; her group attribute joins and leaves only Groups the identity source owns", async () => {
    await fixture.objects.patchSpec("identitycenters", "default", {
      identitySource: {
        ...(fixture.stores.identityCenters.informer.get("default")?.spec.identitySource ?? {}),
        jitProvisioning: true,
      },
    });
    await waitFor("the portal to see jitProvisioning", () =>
      Promise.resolve(
        fixture.stores.identityCenters.informer.get("default")?.spec.identitySource
          .jitProvisioning === true,
      ),
    );
    const { client, samlResponse } = await answeredSignIn(users.carol);
    const answered = await postToAcs(client, samlResponse);
    expect(answered.headers.location).toBe("/");
    // "eng" grants Staging; "admins" names a Group Git owns, which no claim joins her to.
    const home = await client.request("GET", "/");
    expect(home.body).toContain(`<h2>Staging <span class="muted">${B}</span></h2>`);
    expect(home.body).toContain('data-account="staging"');
    expect(home.body).not.toContain('data-account="production"');
    const carol = fixture.stores.users.informer.list().find((u) => u.spec.userName === "carol");
    expect(carol?.metadata.labels?.[MANAGED_BY_SOURCE_LABEL]).toBe(MANAGED_BY_IDENTITY_SOURCE);
    expect(carol?.spec.email).toBe("carol@example.com");
    type GroupObject = {
      metadata: { labels?: Record<string, string> };
      spec: { members: string[] };
    };
    const engineering = await fixture.objects.get<GroupObject>("groups", "engineering");
    expect(engineering.metadata.labels?.[MANAGED_BY_SOURCE_LABEL]).toBe(MANAGED_BY_IDENTITY_SOURCE);
    expect(engineering.spec.members).toEqual(["carol"]);
    expect((await fixture.objects.get<GroupObject>("groups", "admins")).spec.members).toEqual([
      "alice",
    ]);
    expect((await fixture.objects.get<GroupObject>("groups", "contractors")).spec.members).toEqual(
      [],
    );
  });

  it("passes an application's ForceAuthn upstream", async () => {
    const client = new Client(fixture.app);
    const sp = new SAML({
      entryPoint: `${portalUrl}/saml/sso`,
      issuer: "https://wiki.example.com/saml",
      callbackUrl: "https://wiki.example.com/saml/acs",
      idpCert: fixture.certificatePem,
      forceAuthn: true,
    });
    const authorize = new URL(await sp.getAuthorizeUrlAsync("", undefined, {}));
    await client.request("GET", `${authorize.pathname}${authorize.search}`);
    const login = await client.request("GET", "/login");
    expect(login.body).toContain('href="/upstream/saml/start"');
    const upstream = await client.request("GET", "/upstream/saml/start");
    const sent = new URL(upstream.headers.location as string).searchParams.get("SAMLRequest");
    expect(decodeRequest(sent ?? "")).toContain('ForceAuthn="true"');
  });
});

/** The XML of an HTTP-Redirect binding's SAMLRequest (raw DEFLATE, base64). */
function decodeRequest(value: string): string {
  return inflateRawSync(Buffer.from(value, "base64")).toString("utf8");
}
