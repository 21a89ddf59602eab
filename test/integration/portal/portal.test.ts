import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import {
  CreateTokenCommand,
  RegisterClientCommand,
  SSOOIDCClient,
  StartDeviceAuthorizationCommand,
} from "@aws-sdk/client-sso-oidc";
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { SAML, ValidateInResponseTo } from "@node-saml/node-saml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeConfig, type RequestContext } from "@kubernetes/client-node";
import type { Dispatcher } from "undici";
import { CredentialSessions } from "../../../src/adapters/k8s/credential-sessions.ts";
import { CredentialStore } from "../../../src/adapters/k8s/credential-store.ts";
import { credentialOwners, type createStores } from "../../../src/adapters/k8s/stores.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { openSession } from "../../../src/portal/session-cookie.ts";
import { startInformers } from "../../../src/runtime/informer.ts";
import type { buildPortalApp } from "../../../src/portal/app.ts";
import { issueSetupToken } from "../../../src/identity/credentials.ts";
import { totpCode } from "../../harness/totp.ts";
import { PORTAL_SERVICE_ACCOUNT } from "../../harness/chart.ts";
import { startPortalProcess } from "../../harness/portal-process.ts";
import { freePort } from "../../harness/ports.ts";
import { newTotpSecret } from "../../../src/portal/mfa.ts";
import { hashPassword } from "../../../src/portal/password.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import type { customObjects } from "../../harness/k8s.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { waitFor } from "../../harness/wait.ts";
import { xmlsecVerifies } from "../../harness/xmlsec.ts";
import { Client } from "./client.ts";
import { A, CREDENTIALS_NS, NS, startPortalFixture } from "./fixture.ts";

/**
 * A kubeconfig whose connections count the GETs of single credential Secrets (the session
 * check's read of a record): list and watch requests are not counted.
 */
class ReadCountingKubeConfig extends KubeConfig {
  credentialReads = 0;
  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    const count = (path: string, method: string) => {
      if (method === "GET" && /\/secrets\/idc-credentials-[0-9a-f]+(\?|$)/.test(path))
        this.credentialReads++;
    };
    const counting = new Proxy(context, {
      get(target, property, receiver) {
        if (property === "setDispatcher")
          return (dispatcher: Dispatcher) => {
            target.setDispatcher(
              dispatcher.compose((dispatch) => (options, handler) => {
                count(options.path, options.method);
                return dispatch(options, handler);
              }),
            );
          };
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === "function" ? (value as () => unknown).bind(target) : value;
      },
    });
    await super.applySecurityAuthentication(counting);
  }
}

const SIGN_IN = "https://signin.aws.amazon.com/saml";
const PASSWORD = "a long enough passphrase";

type App = ReturnType<typeof buildPortalApp>;

/** The AuthnRequest XML in an HTTP-Redirect URL. */
const inflate = (url: URL) =>
  inflateRawSync(Buffer.from(url.searchParams.get("SAMLRequest") ?? "", "base64")).toString();

describe("access portal", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles(), moto: true });
  let app: App;
  let stores: ReturnType<typeof createStores>;
  let objects: ReturnType<typeof customObjects>;
  let store: CredentialStore;
  let totpSecret = "";
  // The portal's clock: each sign-in moves it one TOTP step on, since a code (a step) can be
  // used only once and the tests sign in many times a minute.
  let clockOffset = 0;
  const portalNow = () => new Date(Date.now() + clockOffset);

  let fixture: Awaited<ReturnType<typeof startPortalFixture>>;
  beforeAll(async () => {
    fixture = await startPortalFixture(env(), {
      externalUrl: "http://127.0.0.1:8080",
      signInUrl: SIGN_IN,
      now: portalNow,
    });
    ({ app, stores, objects, store } = fixture);
    // alice is enrolled here, not by the setup test, so every test can sign in on its own.
    totpSecret = newTotpSecret();
    const passwordHash = await hashPassword(PASSWORD);
    await store.update("alice", (r) => ({ ...r, passwordHash, totpSecret }));
  });
  afterAll(async () => {
    await fixture.stop();
  });

  async function signIn(client: Client, password = PASSWORD) {
    const login = await client.request("GET", "/login");
    const res = await client.request("POST", "/login", {
      csrf: Client.csrf(login.body),
      username: "alice",
      password,
    });
    if (res.statusCode !== 303) return res;
    const otp = await client.request("GET", "/login/otp");
    // A code (a 30 s step) can be used once, and the tests sign in many times a minute: move
    // the portal's clock to the middle of the step after the last one used.
    const last = (await store.get("alice"))?.totpLastStep ?? Math.floor(Date.now() / 30_000);
    clockOffset = Math.max(clockOffset, (last + 1) * 30_000 + 15_000 - Date.now());
    return client.request("POST", "/login/otp", {
      csrf: Client.csrf(otp.body),
      otp: totpCode(totpSecret, portalNow()),
    });
  }

  it("sets up a password and an authenticator from a one-time link", async () => {
    let token = "";
    await store.update("alice", (r) => {
      const issued = issueSetupToken(r, portalNow().getTime());
      token = issued.token;
      return issued.record;
    });
    const client = new Client(app);
    const page = await client.request("GET", `/setup?user=alice&token=${token}`);
    expect(page.statusCode).toBe(200);
    totpSecret = /secret instead: <code>([A-Z2-7]+)<\/code>/.exec(page.body)?.[1] ?? "";
    expect(page.body).toContain("otpauth://totp/");
    const short = await client.request("POST", "/setup", {
      csrf: Client.csrf(page.body),
      user: "alice",
      token,
      password: "too short",
      otp: "000000",
    });
    expect(short.statusCode).toBe(400);
    expect(short.body).toContain("at least 12 characters");
    const done = await client.request("POST", "/setup", {
      csrf: Client.csrf(page.body),
      user: "alice",
      token,
      password: PASSWORD,
      otp: totpCode(totpSecret, portalNow()),
    });
    expect(done.statusCode).toBe(303);
    // The link is single use.
    expect(
      (await new Client(app).request("GET", `/setup?user=alice&token=${token}`)).statusCode,
    ).toBe(410);
  });

  it("answers a wrong password and an unknown user the same way", async () => {
    const client = new Client(app);
    const login = await client.request("GET", "/login");
    const wrong = await client.request("POST", "/login", {
      csrf: Client.csrf(login.body),
      username: "alice",
      password: "not the password",
    });
    const unknown = await client.request("POST", "/login", {
      csrf: Client.csrf(login.body),
      username: "mallory",
      password: "not the password",
    });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.body).toBe(unknown.body);
    await store.update("alice", (r) => ({ ...r, failures: 0 }));
  });

  it("signs in with password and TOTP and lists exactly the assigned accounts, escaping names", async () => {
    const client = new Client(app);
    const res = await signIn(client);
    expect(res.statusCode).toBe(303);
    const home = await client.request("GET", "/");
    expect(home.statusCode).toBe(200);
    expect(home.body).toContain('data-account="production"');
    expect(home.body).not.toContain('data-account="staging"');
    expect(home.body).toContain("ReadOnlyAccess");
    expect(home.body).not.toContain("<script>alert");
    expect(home.body).toContain("&lt;script&gt;");
    expect(home.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(home.headers["cache-control"]).toBe("no-store");
    expect(String(home.headers["set-cookie"])).toMatch(/HttpOnly; SameSite=Lax/);
  });

  it("posts a signed SAML response for the console that a service provider accepts", async () => {
    const client = new Client(app);
    const r = await signIn(client);
    expect([
      r.statusCode,
      /role="alert">([^<]*)/.exec(r.body)?.[1] ?? /<p>([^<]*)/.exec(r.body)?.[1],
    ]).toEqual([303, undefined]);
    const home = await client.request("GET", "/");
    const res = await client.request("POST", "/aws/console", {
      csrf: Client.csrf(home.body),
      account: "production",
      permissionSet: "read-only",
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`action="${SIGN_IN}"`);
    expect(res.body).toContain('name="RelayState" value="https://console.aws.amazon.com/s3/home"');
    const samlResponse = /name="SAMLResponse" value="([^"]+)"/.exec(res.body)?.[1] ?? "";
    const cert = String(
      (await objects.get("identitycenters", "default")).status?.signingCertificate,
    );
    const sp = new SAML({
      callbackUrl: SIGN_IN,
      idpCert: cert,
      issuer: "urn:amazon:webservices",
      audience: "urn:amazon:webservices",
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      // The test moves the portal's clock up to a few TOTP steps ahead (see signIn).
      acceptedClockSkewMs: 5 * 60_000,
    });
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: samlResponse });
    expect(await xmlsecVerifies(Buffer.from(samlResponse, "base64").toString(), cert)).toBe(true);
    expect(String(profile?.["https://aws.amazon.com/SAML/Attributes/Role"])).toMatch(
      new RegExp(
        `^arn:aws:iam::${A}:role/identitycenter/IdC_ReadOnlyAccess_[0-9a-f]{16},arn:aws:iam::${A}:saml-provider/`,
      ),
    );
    expect(profile?.["https://aws.amazon.com/SAML/Attributes/RoleSessionName"]).toBe("alice");
    expect(profile?.["https://aws.amazon.com/SAML/Attributes/PrincipalTag:Department"]).toBe(
      `R&D "labs"`,
    );
  });

  it("hands out CLI credentials for the right account through STS", async () => {
    const client = new Client(app);
    await signIn(client);
    const home = await client.request("GET", "/");
    const res = await client.request(
      "POST",
      "/aws/credentials",
      { csrf: Client.csrf(home.body), account: "production", permissionSet: "read-only" },
      { accept: "application/json" },
    );
    expect(res.statusCode).toBe(200);
    const creds = JSON.parse(res.body) as {
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken: string;
    };
    const who = await env()
      .moto.sts({
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey,
        sessionToken: creds.sessionToken,
      })
      .send(new GetCallerIdentityCommand({}));
    expect(who.Account).toBe(A);
  });

  it("signs in to assigned SAML applications, with the Application's NameID, attributes and signing", async () => {
    const client = new Client(app);
    await signIn(client);
    const home = await client.request("GET", "/");
    expect(home.body).toContain('data-application="wiki"');
    expect(home.body).toContain('data-application="payroll"');
    expect(home.body).not.toContain('data-application="crm"');
    const ic = await objects.get("identitycenters", "default");
    // Each application's own certificate (see application-signing.test.ts for the attack).
    const cert = String((await objects.get("applications", "wiki")).status?.signingCertificate);
    const payrollCert = String(
      (await objects.get("applications", "payroll")).status?.signingCertificate,
    );
    const idpIssuer = String(ic.status?.entityId);
    const uid = (await objects.get<{ metadata: { uid: string } }>("users", "alice")).metadata.uid;

    const page = await client.request("GET", "/applications/wiki");
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("Sign in to Team wiki");
    const wiki = await client.request("POST", "/applications/wiki", {
      csrf: Client.csrf(page.body),
    });
    expect(wiki.statusCode).toBe(200);
    expect(wiki.body).toContain('action="https://wiki.example.com/saml/acs"');
    expect(wiki.body).toContain('name="RelayState" value="/home"');
    expect(wiki.headers["content-security-policy"]).toContain(
      "form-action 'self' https://wiki.example.com;",
    );
    const wikiResponse = /name="SAMLResponse" value="([^"]+)"/.exec(wiki.body)?.[1] ?? "";
    const wikiXml = Buffer.from(wikiResponse, "base64").toString();
    expect(await xmlsecVerifies(wikiXml, cert)).toBe(true);
    const wikiSp = new SAML({
      callbackUrl: "https://wiki.example.com/saml/acs",
      idpCert: cert,
      issuer: "https://wiki.example.com/saml",
      audience: "https://wiki.example.com/saml",
      idpIssuer,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      acceptedClockSkewMs: 5 * 60_000,
    });
    const { profile } = await wikiSp.validatePostResponseAsync({ SAMLResponse: wikiResponse });
    expect(profile).toMatchObject({
      issuer: idpIssuer,
      nameID: "alice@example.com",
      nameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
      department: `R&D "labs"`,
      displayName: `<script>alert("x")</script> ]]>`,
      // From spec.name: these mappings once sent nothing.
      givenName: "Alice",
      familyName: "Liddell",
      role: "editor",
    });
    expect(wikiXml).toContain('Destination="https://wiki.example.com/saml/acs"');
    expect(wikiXml).toContain(
      'Name="displayName" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"',
    );

    const payroll = await client.request("POST", "/applications/payroll", {
      csrf: Client.csrf(home.body),
    });
    expect(payroll.statusCode).toBe(200);
    const payrollResponse = /name="SAMLResponse" value="([^"]+)"/.exec(payroll.body)?.[1] ?? "";
    const payrollXml = Buffer.from(payrollResponse, "base64").toString();
    expect(await xmlsecVerifies(payrollXml, payrollCert, "Response")).toBe(true);
    // Only the Response is signed: an SP that wants a signed assertion must refuse it.
    expect(await xmlsecVerifies(payrollXml, payrollCert, "Assertion")).toBe(false);
    const payrollSp = new SAML({
      callbackUrl: "https://payroll.example.com/acs",
      idpCert: payrollCert,
      issuer: "urn:example:payroll",
      audience: "urn:example:payroll",
      idpIssuer,
      wantAssertionsSigned: false,
      wantAuthnResponseSigned: true,
      acceptedClockSkewMs: 5 * 60_000,
    });
    const payrollProfile = await payrollSp.validatePostResponseAsync({
      SAMLResponse: payrollResponse,
    });
    expect(payrollProfile.profile).toMatchObject({
      nameID: uid,
      nameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    });

    const crm = await client.request("POST", "/applications/crm", {
      csrf: Client.csrf(home.body),
    });
    expect(crm.statusCode).toBe(403);
    expect((await client.request("GET", "/applications/crm")).statusCode).toBe(403);
    const noCsrf = await client.request("POST", "/applications/wiki", {});
    expect(noCsrf.statusCode).toBe(403);
  });

  it("answers an SP-initiated sign-in: sign in first, a click, then a Response to the request", async () => {
    const ic = await objects.get("identitycenters", "default");
    const cert = String((await objects.get("applications", "wiki")).status?.signingCertificate);
    const sp = new SAML({
      entryPoint: "http://127.0.0.1:8080/saml/sso",
      callbackUrl: "https://wiki.example.com/saml/acs",
      issuer: "https://wiki.example.com/saml",
      audience: "https://wiki.example.com/saml",
      idpCert: cert,
      idpIssuer: String(ic.status?.entityId),
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      validateInResponseTo: ValidateInResponseTo.always,
      acceptedClockSkewMs: 5 * 60_000,
    });
    const start = new URL(await sp.getAuthorizeUrlAsync("/wiki/page-42", undefined, {}));
    const client = new Client(app);
    // Not signed in yet: to the login page, and back to the request once signed in.
    const first = await client.request("GET", `${start.pathname}${start.search}`);
    expect([first.statusCode, first.headers.location]).toEqual([303, "/login"]);
    const signedIn = await signIn(client);
    expect(signedIn.headers.location).toBe(`${start.pathname}${start.search}`);
    // The request is not signed: a page names the application, and the user's click answers it.
    const confirm = await client.request("GET", String(signedIn.headers.location));
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain("Continue to Team wiki");
    const field = (name: string) =>
      (new RegExp(`name="${name}" value="([^"]*)"`).exec(confirm.body)?.[1] ?? "").replaceAll(
        "&amp;",
        "&",
      );
    const res = await client.request("POST", "/saml/sso/continue", {
      csrf: Client.csrf(confirm.body),
      SAMLRequest: field("SAMLRequest"),
      RelayState: field("RelayState"),
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('action="https://wiki.example.com/saml/acs"');
    expect(res.body).toContain('name="RelayState" value="/wiki/page-42"');
    const samlResponse = /name="SAMLResponse" value="([^"]+)"/.exec(res.body)?.[1] ?? "";
    expect(await xmlsecVerifies(Buffer.from(samlResponse, "base64").toString(), cert)).toBe(true);
    // node-saml remembers the request's ID and accepts only a Response to it.
    const { profile } = await sp.validatePostResponseAsync({ SAMLResponse: samlResponse });
    expect(profile?.nameID).toBe("alice@example.com");
    expect(profile?.inResponseTo).toBe(/ID="([^"]+)"/.exec(inflate(start))?.[1]);

    // The HTTP-POST binding becomes the Redirect binding's GET (which carries the cookie).
    const posted = await client.request("POST", "/saml/sso", {
      SAMLRequest: Buffer.from(inflate(start)).toString("base64"),
      RelayState: "/elsewhere",
    });
    expect(posted.statusCode).toBe(303);
    expect(String(posted.headers.location)).toMatch(
      /^\/saml\/sso\?SAMLRequest=.+&RelayState=%2Felsewhere$/,
    );

    // Unknown SPs, foreign ACS URLs and applications not assigned to the user are refused.
    const request = (issuer: string, acs: string) =>
      `/saml/sso?${new URLSearchParams({
        SAMLRequest: deflateRawSync(
          `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="${new Date().toISOString()}" AssertionConsumerServiceURL="${acs}"><saml:Issuer>${issuer}</saml:Issuer></samlp:AuthnRequest>`,
        ).toString("base64"),
      }).toString()}`;
    const unknown = await client.request(
      "GET",
      request("https://evil.example.com", "https://evil.example.com/acs"),
    );
    expect([unknown.statusCode, unknown.body]).toEqual([
      400,
      expect.stringContaining("does not come from an application known here"),
    ]);
    const foreignAcs = await client.request(
      "GET",
      request("https://wiki.example.com/saml", "https://evil.example.com/acs"),
    );
    expect([foreignAcs.statusCode, foreignAcs.body]).toEqual([
      400,
      expect.stringContaining("not registered for Team wiki"),
    ]);
    const crm = await client.request(
      "GET",
      request("https://crm.example.com", "https://crm.example.com/acs"),
    );
    expect(crm.statusCode).toBe(403);
    const garbage = await client.request("GET", "/saml/sso?SAMLRequest=bm90IGRlZmxhdGU%3D");
    expect(garbage.statusCode).toBe(400);
  });

  /** A real `idc portal` process as the portal's ServiceAccount, once it is ready. */
  const start = async (replica: string) => {
    const portal = startPortalProcess({
      kubeconfig: await env().kubeconfigFor(PORTAL_SERVICE_ACCOUNT),
      workDir: env().workDir,
      namespace: NS,
      port: await freePort(),
      replica,
    });
    await expect.poll(() => portal.ready(), { timeout: 60_000, interval: 200 }).toBe(true);
    return portal;
  };

  it("tells a device client polling two replicas behind a load balancer to slow down (the interval holds across replicas)", async () => {
    const first = await start("replica-c");
    const second = await start("replica-d");
    try {
      const oidc = (base: string) =>
        new SSOOIDCClient({ region: "us-east-1", endpoint: `${base}/sso/oidc` });
      const registered = await oidc(first.url).send(
        new RegisterClientCommand({ clientName: "poller", clientType: "public" }),
      );
      const client = {
        clientId: registered.clientId ?? "",
        clientSecret: registered.clientSecret ?? "",
      };
      const device = await oidc(first.url).send(
        new StartDeviceAuthorizationCommand({ ...client, startUrl: first.url }),
      );
      const poll = (base: string) =>
        oidc(base)
          .send(
            new CreateTokenCommand({
              ...client,
              grantType: "urn:ietf:params:oauth:grant-type:device_code",
              deviceCode: device.deviceCode ?? "",
            }),
          )
          .then(
            () => "tokens",
            (err: unknown) => (err as Error).name,
          );
      expect(await poll(first.url)).toBe("AuthorizationPendingException");
      // At once on the other replica: it knows of the first poll.
      expect(await poll(second.url)).toBe("SlowDownException");
      await new Promise((r) => setTimeout(r, (device.interval ?? 1) * 1000 + 100));
      expect(await poll(second.url)).toBe("AuthorizationPendingException");
      expect(await poll(first.url)).toBe("SlowDownException");
    } finally {
      await first.stop();
      await second.stop();
    }
  });

  it("keeps a session working on another replica: a second portal process accepts the first one's cookie", async () => {
    // Two real `idc portal` processes, each with its own caches and the keys it read from the
    // cluster: a session made on one must work on the other.
    await objects.create("users", "User", "dana", { userName: "dana", email: "dana@example.com" });
    await objects.create("accountassignments", "AccountAssignment", "dana-ro", {
      principal: { kind: "User", name: "dana" },
      permissionSet: "read-only",
      accounts: ["production"],
    });
    const secret = newTotpSecret();
    const passwordHash = await hashPassword(PASSWORD);
    await store.update("dana", (r) => ({ ...r, passwordHash, totpSecret: secret }));
    const first = await start("replica-a");
    const second = await start("replica-b");
    try {
      let cookie = "";
      const request = async (base: string, path: string, form?: Record<string, string>) => {
        const res = await fetch(`${base}${path}`, {
          method: form ? "POST" : "GET",
          redirect: "manual",
          headers: {
            cookie,
            ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
          },
          ...(form ? { body: new URLSearchParams(form).toString() } : {}),
        });
        const set = res.headers.getSetCookie()[0];
        if (set) cookie = set.split(";")[0] ?? "";
        return { status: res.status, body: await res.text() };
      };
      const login = await request(first.url, "/login");
      const password = await request(first.url, "/login", {
        csrf: Client.csrf(login.body),
        username: "dana",
        password: PASSWORD,
      });
      expect(password.status).toBe(303);
      const otp = await request(first.url, "/login/otp");
      const signedIn = await request(first.url, "/login/otp", {
        csrf: Client.csrf(otp.body),
        otp: totpCode(secret, new Date()),
      });
      expect(signedIn.status).toBe(303);
      expect(first.child.pid).not.toBe(second.child.pid);
      const home = await request(second.url, "/");
      expect(home.status).toBe(200);
      expect(home.body).toContain('data-account="production"');
    } finally {
      await first.stop();
      await second.stop();
    }
  });

  it("refuses forged pairs and missing CSRF tokens", async () => {
    const client = new Client(app);
    await signIn(client);
    const home = await client.request("GET", "/");
    const forged = await client.request("POST", "/aws/console", {
      csrf: Client.csrf(home.body),
      account: "staging",
      permissionSet: "read-only",
    });
    expect(forged.statusCode).toBe(403);
    const noCsrf = await client.request("POST", "/aws/console", {
      account: "production",
      permissionSet: "read-only",
    });
    expect(noCsrf.statusCode).toBe(403);
  });

  it("takes access away at once when the user leaves the group", async () => {
    const client = new Client(app);
    await signIn(client);
    await objects.patchSpec("groups", "admins", { members: [] });
    try {
      await waitFor("the portal cache to see the change", () =>
        Promise.resolve(stores.directory.groupsWithMember("alice").size === 0),
      );
      const home = await client.request("GET", "/");
      expect(home.body).not.toContain('data-account="production"');
      const res = await client.request("POST", "/aws/console", {
        csrf: Client.csrf(home.body),
        account: "production",
        permissionSet: "read-only",
      });
      expect(res.statusCode).toBe(403);
    } finally {
      // Put the membership back, and wait until the cache has it, for the tests that follow.
      await objects.patchSpec("groups", "admins", { members: ["alice"] });
      await waitFor("alice back in admins in the portal cache", () =>
        Promise.resolve(stores.directory.groupsWithMember("alice").size === 1),
      );
    }
  });

  it("locks the account after 5 failures in a row, and unlocks it when the lock runs out", async () => {
    const client = new Client(app);
    for (let i = 0; i < 5; i++) await signIn(client, "wrong password " + String(i));
    const res = await signIn(client);
    expect(res.statusCode).toBe(401);
    expect(res.body).toContain("Too many failed sign-ins");
    const lockedUntil = (await store.get("alice"))?.lockedUntil ?? 0;
    expect(lockedUntil - portalNow().getTime()).toBeGreaterThan(50_000); // one minute, at first
    clockOffset = lockedUntil - Date.now() + 1000; // the portal's clock passes the lock
    expect((await signIn(client)).statusCode).toBe(303);
    expect((await store.get("alice"))?.failures).toBe(0);
    const counts = await fixture.metrics.signIns.get();
    const count = (step: string, result: string) =>
      counts.values.find((v) => v.labels.step === step && v.labels.result === result)?.value ?? 0;
    expect(count("password", "rejected")).toBeGreaterThanOrEqual(5);
    expect(count("password", "locked")).toBeGreaterThanOrEqual(1);
    expect(count("otp", "signed_in")).toBeGreaterThanOrEqual(1);
  });

  it("names the cookie __Host- and marks it Secure when the portal is served over https", async () => {
    const plain = await new Client(app).request("GET", "/login");
    expect(String(plain.headers["set-cookie"])).toMatch(
      /^idc_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/,
    );
    const ic = await objects.get("identitycenters", "default");
    const portal = ic.spec.portal as Record<string, unknown>;
    await objects.patchSpec("identitycenters", "default", {
      portal: { ...portal, externalUrl: "https://sso.example.com" },
    });
    try {
      await waitFor("the portal cache to see the https URL", () =>
        Promise.resolve(
          stores.identityCenters.informer.get("default")?.spec.portal.externalUrl ===
            "https://sso.example.com",
        ),
      );
      const secure = await new Client(app).request("GET", "/login");
      // __Host- cookies must be Secure, have Path=/ and no Domain, so no subdomain can set them.
      const [cookie = "", ...attributes] = String(secure.headers["set-cookie"]).split("; ");
      expect(cookie).toMatch(/^__Host-idc_session=[^;]+$/);
      expect(new Set(attributes)).toEqual(
        new Set(["Path=/", "HttpOnly", "SameSite=Lax", "Secure"]),
      );
    } finally {
      await objects.patchSpec("identitycenters", "default", { portal });
      await waitFor("the portal cache to see the http URL again", () =>
        Promise.resolve(
          stores.identityCenters.informer.get("default")?.spec.portal.externalUrl ===
            portal.externalUrl,
        ),
      );
    }
  });

  it("answers a POST with no form, or no form it can read, with a 4xx page and never a 500 (crashing on undefined forms)", async () => {
    const anonymous = new Client(app);
    await anonymous.request("GET", "/login");
    const signedIn = new Client(app);
    await signIn(signedIn);
    const routes = [
      "/login",
      "/login/otp",
      "/setup",
      "/logout",
      "/applications/wiki",
      "/saml/sso",
      "/aws/console",
      "/aws/credentials",
    ];
    const bodies: { name: string; headers: Record<string, string>; payload?: string }[] = [
      { name: "no body", headers: {} },
      { name: "text/plain", headers: { "content-type": "text/plain" }, payload: "csrf=x" },
      { name: "JSON null", headers: { "content-type": "application/json" }, payload: "null" },
      { name: "JSON string", headers: { "content-type": "application/json" }, payload: '"x"' },
      {
        name: "a field twice",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        payload: "csrf=a&csrf=b&SAMLRequest=a&SAMLRequest=b",
      },
    ];
    const answers: string[] = [];
    for (const client of [anonymous, signedIn])
      for (const url of routes)
        for (const body of bodies) {
          const res = await app.inject({
            method: "POST",
            url,
            headers: { cookie: client.cookie, ...body.headers },
            ...(body.payload === undefined ? {} : { payload: body.payload }),
          });
          const html = String(res.headers["content-type"]).startsWith("text/html");
          if (res.statusCode < 400 || res.statusCode >= 500 || !html)
            answers.push(`${url} with ${body.name}: ${String(res.statusCode)} ${res.body}`);
        }
    // Query strings with a field twice are refused the same way.
    for (const url of [
      "/?q=a&q=b",
      "/setup?user=alice&user=bob&token=x",
      "/saml/sso?SAMLRequest=a&SAMLRequest=b",
    ]) {
      const res = await signedIn.request("GET", url);
      if (res.statusCode < 400 || res.statusCode >= 500)
        answers.push(`GET ${url}: ${String(res.statusCode)} ${res.body}`);
    }
    expect(answers).toEqual([]);
  });

  it("stays live while its IdentityCenter is missing from the cache (a liveness probe must not kill the pod), and is not ready", async () => {
    const orphan = fixture.replica({ instanceName: "not-created-yet" });
    const live = await orphan.inject({ method: "GET", url: "/healthz" });
    expect([live.statusCode, live.body]).toEqual([200, "ok\n"]);
    expect((await orphan.inject({ method: "GET", url: "/readyz" })).statusCode).toBe(503);
  });

  it("ends the sessions of a user made inactive", async () => {
    const client = new Client(app);
    expect((await signIn(client)).statusCode).toBe(303);
    await objects.patchSpec("users", "alice", { active: false });
    try {
      await waitFor("the portal cache to see the change", () =>
        Promise.resolve(stores.users.informer.get("alice")?.spec.active === false),
      );
      const home = await client.request("GET", "/");
      expect(home.statusCode).toBe(303);
      expect(home.headers.location).toBe("/login");
    } finally {
      await objects.patchSpec("users", "alice", { active: true });
      await waitFor("alice active again in the portal cache", () =>
        Promise.resolve(stores.users.informer.get("alice")?.spec.active === true),
      );
    }
  });

  describe("the session check's cache of credential records (docs/adr/0021)", () => {
    /**
     * A replica of the portal with a store and a session cache of its own (the other caches
     * and the session key are the fixture's), on the portal ServiceAccount's RBAC, counting the
     * reads of single credential Secrets it sends to the API server.
     */
    async function replicaWithOwnCache(options: { start?: boolean } = {}) {
      const kc = new ReadCountingKubeConfig();
      kc.loadFromFile(fixture.portalKubeconfig);
      const owners = credentialOwners(stores);
      const cache = new CredentialSessions(kc, CREDENTIALS_NS, owners, createLogger("silent"));
      const credentials = new CredentialStore(kc, CREDENTIALS_NS, owners, {
        seen: (secret) => cache.observe(secret),
      });
      if (options.start ?? true) await startInformers([cache.informer]);
      const replica = fixture.replica({ credentials, sessionRecords: cache });
      caches.push(cache);
      return { app: replica, kc, cache };
    }
    const caches: CredentialSessions[] = [];
    afterAll(async () => {
      for (const cache of caches) await cache.informer.stop();
    });
    const listed = (cache: CredentialSessions, id: string | undefined) =>
      (cache.lookup("alice")?.record?.sessions ?? []).some((s) => s.id === id);
    /** The session id in a client's cookie, opened with the key the replicas share. */
    const sessionIdOf = (replica: App, client: Client) =>
      openSession(
        decodeURIComponent(client.cookie.slice(client.cookie.indexOf("=") + 1)),
        replica.portal.sessionKeys(),
      )?.id;

    it("a session signed out on another replica is refused once the watch brings the sign-out there (reusing a stolen cookie after logout)", async () => {
      const a = await replicaWithOwnCache();
      const b = await replicaWithOwnCache();
      const owner = new Client(a.app);
      expect((await signIn(owner)).statusCode).toBe(303);
      const id = sessionIdOf(a.app, owner);
      expect(id).toBeDefined();
      // The sign-in's own write is in A's cache at once (write-through), before any watch event.
      expect(listed(a.cache, id)).toBe(true);
      const stolen = owner.cookie;
      const onB = new Client(b.app);
      onB.cookie = stolen;
      const home = await onB.request("GET", "/");
      expect(home.statusCode).toBe(200);
      const out = await onB.request("POST", "/logout", { csrf: Client.csrf(home.body) });
      expect(out.statusCode).toBe(303);
      // B wrote the sign-out: it refuses the cookie at once.
      const thiefOnB = new Client(b.app);
      thiefOnB.cookie = stolen;
      const refusedOnB = await thiefOnB.request("GET", "/");
      expect([refusedOnB.statusCode, refusedOnB.headers.location]).toEqual([303, "/login"]);
      // A learns of it through its watch, and then refuses the cookie too.
      await waitFor("A's cache to see the sign-out made on B", () =>
        Promise.resolve(!listed(a.cache, id)),
      );
      const thiefOnA = new Client(a.app);
      thiefOnA.cookie = stolen;
      const refusedOnA = await thiefOnA.request("GET", "/");
      expect([refusedOnA.statusCode, refusedOnA.headers.location]).toEqual([303, "/login"]);
    });

    it("accepts at once a session signed in on another replica that its cache has not seen yet (a refusal is confirmed by a read)", async () => {
      const a = await replicaWithOwnCache();
      const b = await replicaWithOwnCache();
      // A's watch is behind for as long as the test runs: its cache knows nothing after this.
      await a.cache.informer.stop();
      const onB = new Client(b.app);
      expect((await signIn(onB)).statusCode).toBe(303);
      const id = sessionIdOf(b.app, onB);
      expect(listed(a.cache, id)).toBe(false);
      const onA = new Client(a.app);
      onA.cookie = onB.cookie;
      const before = a.kc.credentialReads;
      const home = await onA.request("GET", "/");
      expect(home.statusCode).toBe(200);
      expect(home.body).toContain('data-account="production"');
      expect(a.kc.credentialReads).toBe(before + 1);
      // The record that read is now in A's cache: the next request needs no read.
      expect(listed(a.cache, id)).toBe(true);
      expect((await onA.request("GET", "/")).statusCode).toBe(200);
      expect(a.kc.credentialReads).toBe(before + 1);
    });

    it("reads the credential record on every signed-in request until its cache has synced, and on none after (no API round trip per request)", async () => {
      const a = await replicaWithOwnCache({ start: false });
      const client = new Client(a.app);
      expect((await signIn(client)).statusCode).toBe(303);
      let reads = a.kc.credentialReads;
      for (let i = 0; i < 5; i++) expect((await client.request("GET", "/")).statusCode).toBe(200);
      // The counter sees the reads: without the cache every request makes one.
      expect(a.kc.credentialReads - reads).toBe(5);
      await startInformers([a.cache.informer]);
      reads = a.kc.credentialReads;
      for (let i = 0; i < 5; i++) {
        const home = await client.request("GET", "/");
        expect(home.statusCode).toBe(200);
        const console_ = await client.request("POST", "/aws/console", {
          csrf: Client.csrf(home.body),
          account: "production",
          permissionSet: "read-only",
        });
        expect(console_.statusCode).toBe(200);
      }
      expect(a.kc.credentialReads - reads).toBe(0);
    });
  });
});
