import { CoreV1Api } from "@kubernetes/client-node";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANAGED_BY_IDENTITY_SOURCE, MANAGED_BY_SOURCE_LABEL } from "../../../src/plan/naming.ts";
import { launchChromium } from "../../harness/browser.ts";
import { startConsoleStandIn, type ConsoleStandIn } from "../../harness/console-stand-in.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { startOidcProvider, type OidcProvider } from "../../harness/oidc-provider.ts";
import { freePort } from "../../harness/ports.ts";
import { totpCode } from "../../harness/totp.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { waitFor } from "../../harness/wait.ts";
import { xmlsecVerifies } from "../../harness/xmlsec.ts";
import { A, B, NS, startPortalFixture } from "./fixture.ts";

const DAVE_TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

// The portal signs users in through panva's oidc-provider, a certified OpenID provider run as
// its own process over TLS (test CA trusted like --upstream-ca-file does). alice (group admins)
// can use Production; carol exists only upstream and is created on first sign-in, her upstream
// group "eng" granting Staging; dave has our TOTP enrolled; mallory exists only upstream.
describe("sign-in through an upstream OIDC provider (oidc-provider) in Chromium", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles(), moto: true });
  let fixture: Awaited<ReturnType<typeof startPortalFixture>>;
  let idp: OidcProvider;
  let browser: Browser;
  let standIn: ConsoleStandIn;
  let portalUrl = "";

  beforeAll(async () => {
    standIn = await startConsoleStandIn({ stsEndpoint: env().moto.endpoint });
    const port = await freePort();
    portalUrl = `http://127.0.0.1:${String(port)}`;
    const claims = (name: string, extra: Record<string, unknown> = {}) => ({
      preferred_username: name,
      email: `${name}@example.com`,
      email_verified: true,
      name: name.toUpperCase(),
      ...extra,
    });
    idp = await startOidcProvider({
      workDir: env().workDir,
      clients: [
        {
          client_id: "portal",
          client_secret: "portal-client-secret",
          redirect_uris: [`${portalUrl}/upstream/oidc/callback`],
          post_logout_redirect_uris: [`${portalUrl}/login`],
        },
        {
          client_id: "other-app",
          client_secret: "other-app-secret",
          redirect_uris: [`${portalUrl}/upstream/oidc/callback`],
          post_logout_redirect_uris: [],
        },
      ],
      accounts: {
        alice: { password: "alice-pw", claims: claims("alice", { groups: [] }) },
        carol: { password: "carol-pw", claims: claims("carol", { groups: ["eng", "other"] }) },
        dave: { password: "dave-pw", claims: claims("dave") },
        mallory: { password: "mallory-pw", claims: claims("mallory") },
      },
    });
    fixture = await startPortalFixture(env(), {
      externalUrl: portalUrl,
      signInUrl: standIn.url,
      now: () => new Date(),
      identitySource: {
        type: "oidc",
        displayName: "Test IdP",
        oidc: {
          issuerUrl: idp.issuer,
          clientId: "portal",
          clientSecret: { name: "upstream-oidc", key: "client-secret" },
          scopes: ["openid", "profile", "email", "groups"],
          groupsClaim: "groups",
        },
        jitProvisioning: false,
        groupMapping: { sameName: false, mappings: [{ upstream: "eng", group: "engineering" }] },
      },
    });
    await env()
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespacedSecret({
        namespace: NS,
        body: {
          metadata: { name: "upstream-oidc" },
          stringData: { "client-secret": "portal-client-secret" },
        },
      });
    await fixture.objects.create("users", "User", "dave", {
      userName: "dave",
      email: "dave@example.com",
    });
    // The credential store finds a record's owner in the portal's cache.
    await waitFor("the portal's cache to see dave", () =>
      Promise.resolve(fixture.stores.directory.validUserFor("dave") !== undefined),
    );
    await fixture.store.update("dave", (r) => ({ ...r, totpSecret: DAVE_TOTP }));
    await fixture.objects.create("accountassignments", "AccountAssignment", "engineering-ro", {
      principal: { kind: "Group", name: "engineering" },
      permissionSet: "read-only",
      accounts: ["staging"],
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

  async function upstreamLogin(
    page: Page,
    login: string,
    password: string,
    options: { securityKey?: boolean } = {},
  ) {
    await page.goto(`${portalUrl}/login`);
    await page.click("#upstream-sign-in");
    await page.waitForURL((url) => url.href.startsWith(`${idp.issuer}/interaction/`));
    await page.fill("#upstream-login", login);
    await page.fill("#upstream-password", password);
    if (options.securityKey) await page.check("#upstream-otp");
    await page.click("#upstream-submit");
  }

  /**
   * Signs in upstream from `url` on with the context's own requests and returns the portal
   * callback URL the upstream redirects to, unvisited (a browser's interception cannot stop a
   * redirect, so the hops are followed here, one by one, with the context's cookies).
   */
  async function callbackUrl(
    context: BrowserContext,
    url: string,
    login: string,
    password: string,
  ) {
    let next = url;
    for (let hop = 0; hop < 10; hop++) {
      if (next.startsWith(`${portalUrl}/upstream/oidc/callback`)) return next;
      const response = await context.request.get(next, { maxRedirects: 0 });
      let location = response.headers().location;
      if (!location) {
        // The upstream's login form, which posts back to its own URL.
        const posted = await context.request.post(next, {
          form: { login, password, otp: "1" },
          maxRedirects: 0,
        });
        location = posted.headers().location;
      }
      if (!location) throw new Error(`the upstream answered ${next} without a redirect`);
      next = new URL(location, next).href;
    }
    throw new Error("the upstream never sent the browser back to the portal");
  }

  // The browser trusts the test IdP's certificate as a user's would trust theirs; the portal
  // itself checks the IdP's TLS against the test CA (nothing turned off there).
  const newContext = (): Promise<BrowserContext> => browser.newContext({ ignoreHTTPSErrors: true });

  it("goes portal -> upstream login -> back -> accounts -> console, the SAML response verified by xmlsec1; an upstream MFA skips our TOTP; sign-out ends both sessions", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(`${portalUrl}/login`);
    // Password sign-in is off: no password field, only the upstream's button.
    await expect(page.locator('input[name="password"]').count()).resolves.toBe(0);
    expect(await page.locator("#upstream-sign-in").textContent()).toBe("Sign in with Test IdP");

    await upstreamLogin(page, "alice", "alice-pw", { securityKey: true });
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
    const xml = Buffer.from(posted.get("SAMLResponse") ?? "", "base64").toString();
    expect(await xmlsecVerifies(xml, fixture.certificatePem)).toBe(true);
    // The upstream's MFA is reported to AWS as a multi-factor sign-in.
    expect(xml).toContain("https://refeds.org/profile/mfa");

    await page.goto(`${portalUrl}/`);
    await page.click('header button:has-text("Sign out")');
    // Our session ends, and the upstream is asked to end its own (RP-initiated logout).
    await page.waitForURL((url) => url.href.startsWith(`${idp.issuer}/session/end`));
    const after = await context.request.get(`${portalUrl}/`, { maxRedirects: 0 });
    expect(after.status()).toBe(303);
    expect(after.headers().location).toBe("/login");
    await context.close();
  });

  it("asks for our own TOTP when the upstream reports no second factor", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await upstreamLogin(page, "dave", "dave-pw");
    await page.waitForURL(`${portalUrl}/login/otp`);
    await page.fill('input[name="otp"]', totpCode(DAVE_TOTP, new Date()));
    await page.click('button[type="submit"]');
    await page.waitForURL(`${portalUrl}/`);
    expect(await page.locator("header").textContent()).toContain("dave");
    await context.close();
  });

  it("refuses alice without upstream MFA when she has no authenticator here (mfa required)", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await upstreamLogin(page, "alice", "alice-pw");
    await page.waitForSelector("#refusal");
    expect(await page.locator("#refusal").textContent()).toContain("requires multi-factor");
    await context.close();
  });

  it("refuses an upstream user who has no User here while jitProvisioning is off", async () => {
    const context = await newContext();
    const page = await context.newPage();
    await upstreamLogin(page, "mallory", "mallory-pw", { securityKey: true });
    await page.waitForSelector("#refusal");
    expect(await page.locator("#refusal").textContent()).toContain("no user with your user name");
    await expect(fixture.objects.get("users", "mallory")).rejects.toThrow();
    await context.close();
  });

  it("refuses a callback carrying another browser's code and state (login CSRF, code injection)", async () => {
    // The attacker signs in upstream as herself and keeps the callback URL instead of using it.
    const attacker = await newContext();
    const stolen = await callbackUrl(
      attacker,
      `${portalUrl}/upstream/oidc/start`,
      "dave",
      "dave-pw",
    );
    // The victim has a sign-in of her own in progress and is sent the attacker's URL.
    const victim = await newContext();
    const page = await victim.newPage();
    await page.goto(`${portalUrl}/upstream/oidc/start`);
    await page.waitForURL((url) => url.href.startsWith(`${idp.issuer}/interaction/`));
    const response = await page.goto(stolen);
    expect(response?.status()).toBe(401);
    expect(await page.locator("#refusal").textContent()).toContain("could not be verified");
    const home = await victim.request.get(`${portalUrl}/`, { maxRedirects: 0 });
    expect(home.headers().location).toBe("/login");
    await attacker.close();
    await victim.close();
  });

  it("refuses a code and id_token issued to another client of the upstream (wrong audience)", async () => {
    const context = await newContext();
    // The authorization request is rewritten to name another client: what comes back is a
    // code for that client, whose id_token's audience is not the portal.
    const start = await context.request.get(`${portalUrl}/upstream/oidc/start`, {
      maxRedirects: 0,
    });
    const authorize = new URL(start.headers().location ?? "");
    authorize.searchParams.set("client_id", "other-app");
    const forged = await callbackUrl(context, authorize.href, "dave", "dave-pw");
    const page = await context.newPage();
    const response = await page.goto(forged);
    expect(response?.status()).toBe(401);
    expect(await page.locator("#refusal").textContent()).toContain("could not be verified");
    await context.close();
  });

  it("creates carol on first sign-in (owned by the identity source) and her group claim grants Staging", async () => {
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
    const context = await newContext();
    const page = await context.newPage();
    await upstreamLogin(page, "carol", "carol-pw", { securityKey: true });
    await page.waitForURL(`${portalUrl}/`);
    await expect(page.locator("section.account h2").allTextContents()).resolves.toEqual([
      `Staging ${B}`,
    ]);
    const carol = fixture.stores.users.informer.list().find((u) => u.spec.userName === "carol");
    expect(carol?.metadata.labels?.[MANAGED_BY_SOURCE_LABEL]).toBe(MANAGED_BY_IDENTITY_SOURCE);
    expect(carol?.spec.email).toBe("carol@example.com");
    const engineering = await fixture.objects.get<{
      metadata: { labels?: Record<string, string> };
      spec: { members: string[] };
    }>("groups", "engineering");
    expect(engineering.metadata.labels?.[MANAGED_BY_SOURCE_LABEL]).toBe(MANAGED_BY_IDENTITY_SOURCE);
    expect(engineering.spec.members).toEqual(["carol"]);
    // The unmapped upstream group "other" made nothing.
    await expect(fixture.objects.get("groups", "other")).rejects.toThrow();
    await context.close();
  });
});
