import { SAML } from "@node-saml/node-saml";
import { pino } from "pino";
import { randomBytes } from "node:crypto";
import { createServer, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CredentialStore } from "../../../src/adapters/k8s/credential-store.ts";
import type { createStores } from "../../../src/adapters/k8s/stores.ts";
import type { buildPortalApp } from "../../../src/portal/app.ts";
import { issueSetupToken, resetRecord } from "../../../src/identity/credentials.ts";
import { hashPassword } from "../../../src/portal/password.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import type { customObjects } from "../../harness/k8s.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { totpCode } from "../../harness/totp.ts";
import { waitFor } from "../../harness/wait.ts";
import { xmlsecVerifies } from "../../harness/xmlsec.ts";
import { Client } from "./client.ts";
import { startPortalFixture } from "./fixture.ts";

const SIGN_IN = "https://signin.aws.amazon.com/saml";
const PORTAL = "http://127.0.0.1:8080";
const PASSWORD = "a long enough passphrase";
const BAD_LOGIN = "The user name or password is incorrect.";
const LOCKED = "Too many failed sign-ins. Try again later.";
const MFA_CLASS = "https://refeds.org/profile/mfa";
const WIKI = {
  callbackUrl: "https://wiki.example.com/saml/acs",
  issuer: "https://wiki.example.com/saml",
  audience: "https://wiki.example.com/saml",
};

type App = ReturnType<typeof buildPortalApp>;

/**
 * Attacks on the portal's sign-in, sessions, logs and SAML answers, each driven through the real
 * portal app against the real API server (credential records are real Secrets).
 */
describe("attacks on the access portal", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles(), moto: true });
  let app: App;
  let stores: ReturnType<typeof createStores>;
  let objects: ReturnType<typeof customObjects>;
  let store: CredentialStore;
  let fixture: Awaited<ReturnType<typeof startPortalFixture>>;
  // The wiki's own certificate: the instance key signs AWS sign-ins only.
  let wikiCertificate = "";
  let idpIssuer = "";
  // The portal's clock: tests move it on (TOTP steps are single use; locks and sessions expire).
  let clockOffset = 0;
  const portalNow = () => new Date(Date.now() + clockOffset);
  // Everything the portal logs, at every level, as written.
  const logLines: string[] = [];
  // Each browser gets its own source address, so that per-address throttling of one test does
  // not spill into the next.
  let lastAddress = 0;
  const nextAddress = () => {
    lastAddress++;
    return `10.1.${String(Math.floor(lastAddress / 250))}.${String((lastAddress % 250) + 1)}`;
  };
  const browser = (target: App = app) => new Client(target, nextAddress());
  const secrets = new Map<string, string>();

  async function createUser(name: string, spec: Record<string, unknown> = {}) {
    await objects.create("users", "User", name, {
      userName: name,
      email: `${name}@example.com`,
      ...spec,
    });
    await waitFor(`the portal cache to see User ${name}`, () =>
      Promise.resolve(stores.directory.validUserFor(name) !== undefined),
    );
  }

  async function setupLink(userName: string, reset = false): Promise<string> {
    let token = "";
    await store.update(userName, (r) => {
      const issued = issueSetupToken(reset ? resetRecord(r) : r, portalNow().getTime());
      token = issued.token;
      return issued.record;
    });
    return token;
  }

  /** A code for the user's authenticator at a step the portal has not seen used yet. */
  async function freshCode(userName: string, secret = secrets.get(userName) ?? "") {
    const last = (await store.get(userName))?.totpLastStep ?? 0;
    const step = Math.floor(portalNow().getTime() / 30_000);
    if (step <= last) clockOffset += (last + 1 - step) * 30_000;
    // The middle of a step, so that the code is still current when the portal checks it.
    const into = portalNow().getTime() % 30_000;
    if (into > 20_000) clockOffset += 30_000 - into + 15_000;
    return totpCode(secret, portalNow());
  }

  /** Follows a setup link: a password and an authenticator; returns the authenticator secret. */
  async function enrol(userName: string, token: string, password = PASSWORD) {
    const client = browser();
    const page = await client.request("GET", `/setup?user=${userName}&token=${token}`);
    expect(page.statusCode).toBe(200);
    const secret = /secret instead: <code>([A-Z2-7]+)<\/code>/.exec(page.body)?.[1] ?? "";
    const done = await client.request("POST", "/setup", {
      csrf: Client.csrf(page.body),
      user: userName,
      token,
      password,
      otp: await freshCode(userName, secret),
    });
    expect([done.statusCode, Client.alert(done.body)]).toEqual([303, undefined]);
    secrets.set(userName, secret);
    return secret;
  }

  async function passwordStep(client: Client, userName: string, password = PASSWORD) {
    const login = await client.request("GET", "/login");
    return client.request("POST", "/login", {
      csrf: Client.csrf(login.body),
      username: userName,
      password,
    });
  }

  async function signIn(client: Client, userName = "alice", password = PASSWORD) {
    const res = await passwordStep(client, userName, password);
    if (res.statusCode !== 303) return res;
    const otp = await client.request("GET", "/login/otp");
    return client.request("POST", "/login/otp", {
      csrf: Client.csrf(otp.body),
      otp: await freshCode(userName),
    });
  }

  async function signedIn(client: Client) {
    const home = await client.request("GET", "/");
    return home.statusCode === 200;
  }

  const counter = async (name: string) => {
    const metric = (await fixture.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
    return (metric?.values ?? []).reduce((sum, v) => sum + v.value, 0);
  };

  const responseXml = (html: string) =>
    Buffer.from(/name="SAMLResponse" value="([^"]+)"/.exec(html)?.[1] ?? "", "base64").toString();

  const wikiSp = (options: Record<string, unknown> = {}) =>
    new SAML({
      entryPoint: `${PORTAL}/saml/sso`,
      ...WIKI,
      idpCert: wikiCertificate,
      idpIssuer,
      wantAssertionsSigned: false,
      wantAuthnResponseSigned: false,
      acceptedClockSkewMs: -1,
      ...options,
    });

  /**
   * The user's click on the page an unsigned SP-initiated request shows (naming the
   * application): posts the request back and returns the portal's answer.
   */
  async function clickContinue(client: Client, confirm: { statusCode: number; body: string }) {
    expect(confirm.statusCode).toBe(200);
    const field = (name: string) =>
      (new RegExp(`name="${name}" value="([^"]*)"`).exec(confirm.body)?.[1] ?? "").replaceAll(
        "&amp;",
        "&",
      );
    return client.request("POST", "/saml/sso/continue", {
      csrf: Client.csrf(confirm.body),
      SAMLRequest: field("SAMLRequest"),
      RelayState: field("RelayState"),
    });
  }

  /** An SP-initiated sign-in to the wiki: the path and query of the AuthnRequest URL. */
  async function wikiRequest(options: Record<string, unknown> = {}) {
    const url = new URL(await wikiSp(options).getAuthorizeUrlAsync("/page", undefined, {}));
    return `${url.pathname}${url.search}`;
  }

  beforeAll(async () => {
    const log = pino({ level: "trace" }, { write: (line: string) => logLines.push(line) });
    fixture = await startPortalFixture(env(), {
      externalUrl: PORTAL,
      signInUrl: SIGN_IN,
      now: portalNow,
      log,
    });
    ({ app, stores, objects, store } = fixture);
    const ic = await objects.get("identitycenters", "default");
    wikiCertificate = String(
      (await objects.get("applications", "wiki")).status?.signingCertificate,
    );
    idpIssuer = String(ic.status?.entityId);
    await enrol("alice", await setupLink("alice"));
  });
  afterAll(async () => {
    await fixture.stop();
  });

  describe("lockout and enumeration", () => {
    it("checks at most 5 of 12 parallel wrong passwords (lockout bypassed by racing requests)", async () => {
      await createUser("racer");
      await enrol("racer", await setupLink("racer"));
      const clients = Array.from({ length: 12 }, () => browser());
      const pages = await Promise.all(clients.map((c) => c.request("GET", "/login")));
      const answers = await Promise.all(
        clients.map((c, i) =>
          c.request("POST", "/login", {
            csrf: Client.csrf(pages[i]?.body ?? ""),
            username: "racer",
            password: `wrong guess ${String(i)}`,
          }),
        ),
      );
      const checked = answers.filter((a) => Client.alert(a.body) === BAD_LOGIN).length;
      const refused = answers.filter((a) => Client.alert(a.body) === LOCKED).length;
      expect([checked, refused]).toEqual([5, 7]);
      // The lock holds for the right password too.
      const right = await signIn(browser(), "racer");
      expect([right.statusCode, Client.alert(right.body)]).toEqual([401, LOCKED]);
    });

    it("answers a locked user and a locked unknown name alike (user enumeration through the lockout)", async () => {
      await createUser("locky");
      await enrol("locky", await setupLink("locky"));
      const answers = async (userName: string) => {
        const out: (string | number | undefined)[][] = [];
        for (let i = 0; i < 6; i++) {
          const res = await passwordStep(browser(), userName, `wrong guess ${String(i)}`);
          out.push([res.statusCode, Client.alert(res.body)]);
        }
        return out;
      };
      const real = await answers("locky");
      const unknown = await answers("nobody-by-this-name");
      expect(real[5]).toEqual([401, LOCKED]);
      expect(unknown).toEqual(real);
    });

    it("computes the password hash for unknown and inactive names too (user enumeration by timing)", async () => {
      await createUser("sleeper");
      await store.update("sleeper", (r) => ({ ...r, failures: 0 }));
      const passwordHash = await hashPassword(PASSWORD);
      await store.update("sleeper", (r) => ({ ...r, passwordHash }));
      await objects.patchSpec("users", "sleeper", { active: false });
      await waitFor("the portal cache to see sleeper inactive", () =>
        Promise.resolve(stores.users.informer.get("sleeper")?.spec.active === false),
      );
      const hashes = "idc_portal_password_hashes_total";
      for (const userName of ["alice", "no-such-user", "sleeper"]) {
        const before = await counter(hashes);
        const res = await passwordStep(browser(), userName, "not the password at all");
        expect([userName, res.statusCode, Client.alert(res.body)]).toEqual([
          userName,
          401,
          BAD_LOGIN,
        ]);
        expect([userName, (await counter(hashes)) - before]).toEqual([userName, 1]);
      }
      // The right password of an inactive user is refused after the same work.
      const before = await counter(hashes);
      const res = await passwordStep(browser(), "sleeper", PASSWORD);
      expect([res.statusCode, Client.alert(res.body)]).toEqual([401, BAD_LOGIN]);
      expect((await counter(hashes)) - before).toBe(1);
      await store.update("alice", (r) => ({ ...r, failures: 0 }));
    });

    it("lets the owner in between wrong passwords sent once an hour (lockout kept up forever)", async () => {
      await createUser("victim");
      await enrol("victim", await setupLink("victim"));
      for (let i = 0; i < 5; i++) await passwordStep(browser(), "victim", `guess ${String(i)}`);
      const locked = await passwordStep(browser(), "victim", "one more guess");
      expect(Client.alert(locked.body)).toBe(LOCKED);
      for (let hour = 0; hour < 3; hour++) {
        clockOffset += 3600_000;
        const guess = await passwordStep(browser(), "victim", `hourly guess ${String(hour)}`);
        expect(Client.alert(guess.body)).toBe(BAD_LOGIN);
      }
      clockOffset += 60_000;
      const owner = await signIn(browser(), "victim");
      expect([owner.statusCode, Client.alert(owner.body)]).toEqual([303, undefined]);
    });

    it("throttles one source address trying many names (password spraying from one address)", async () => {
      const replica = fixture.replica({
        throttle: { perAddress: { max: 3, timeWindow: 60_000 }, global: { max: 1000 } },
      });
      const sprayer = browser(replica);
      const answers: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await passwordStep(sprayer, `sprayed-name-${String(i)}`, "Summer2026!!");
        answers.push(res.statusCode);
      }
      expect(answers).toEqual([401, 401, 401, 429]);
      const last = await passwordStep(sprayer, "alice", PASSWORD);
      expect(last.statusCode).toBe(429);
      expect(last.headers["retry-after"]).toBeDefined();
      expect(last.body).toContain("Too many requests");
      // Another address is not affected.
      expect((await passwordStep(browser(replica), "x-name", "whatever")).statusCode).toBe(401);
    });

    it("throttles sign-in across all addresses together (distributed guessing that exhausts the CPU)", async () => {
      const replica = fixture.replica({
        throttle: { perAddress: { max: 100 }, global: { max: 3, timeWindow: 60_000 } },
      });
      const answers: number[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await passwordStep(browser(replica), `botnet-name-${String(i)}`, "guess");
        answers.push(res.statusCode);
      }
      expect(answers).toEqual([401, 401, 401, 429]);
      // Pages that check no credential stay up.
      expect((await browser(replica).request("GET", "/login")).statusCode).toBe(200);
    });
  });

  describe("sessions", () => {
    it("refuses a copied session cookie after sign-out (session replay after logout)", async () => {
      const client = browser();
      expect((await signIn(client)).statusCode).toBe(303);
      const thief = client.copy(nextAddress());
      const home = await client.request("GET", "/");
      const out = await client.request("POST", "/logout", { csrf: Client.csrf(home.body) });
      expect(out.statusCode).toBe(303);
      expect(await signedIn(thief)).toBe(false);
    });

    it("ends every session when a new password is set through a setup link", async () => {
      const client = browser();
      expect((await signIn(client)).statusCode).toBe(303);
      await enrol("alice", await setupLink("alice"));
      expect(await signedIn(client)).toBe(false);
    });

    it("ends sessions on deactivation and does not revive them on reactivation", async () => {
      await createUser("temp");
      await enrol("temp", await setupLink("temp"));
      const client = browser();
      expect((await signIn(client, "temp")).statusCode).toBe(303);
      await objects.patchSpec("users", "temp", { active: false });
      await waitFor("the portal cache to see temp inactive", () =>
        Promise.resolve(stores.users.informer.get("temp")?.spec.active === false),
      );
      await objects.patchSpec("users", "temp", { active: true });
      await waitFor("the portal cache to see temp active", () =>
        Promise.resolve(stores.users.informer.get("temp")?.spec.active === true),
      );
      expect(await signedIn(client)).toBe(false);
      // Signing in again works.
      const again = browser();
      expect((await signIn(again, "temp")).statusCode).toBe(303);
      expect(await signedIn(again)).toBe(true);
    });

    it("refuses a half-signed-in cookie after 5 minutes (password step that never expires)", async () => {
      const client = browser();
      expect((await passwordStep(client, "alice")).statusCode).toBe(303);
      const otp = await client.request("GET", "/login/otp");
      clockOffset += 6 * 60_000;
      const res = await client.request("POST", "/login/otp", {
        csrf: Client.csrf(otp.body),
        otp: await freshCode("alice"),
      });
      expect(res.headers.location).not.toBe("/");
      expect(await signedIn(client)).toBe(false);
    });

    it("refuses a 20-day-old half-signed-in cookie after a reset, even with a code from the new authenticator", async () => {
      await createUser("reset-me");
      await enrol("reset-me", await setupLink("reset-me"));
      const client = browser();
      expect((await passwordStep(client, "reset-me")).statusCode).toBe(303);
      const otp = await client.request("GET", "/login/otp");
      clockOffset += 20 * 24 * 3600_000;
      await enrol("reset-me", await setupLink("reset-me", true), "the owner's new passphrase");
      const res = await client.request("POST", "/login/otp", {
        csrf: Client.csrf(otp.body),
        otp: await freshCode("reset-me"),
      });
      expect(res.headers.location).not.toBe("/");
      expect(await signedIn(client)).toBe(false);
    });

    it("keeps sessions sealed with the previous session key after a rotation, and refuses them once that key is retired", async () => {
      const oldKey = { id: "k1", key: randomBytes(32) };
      const newKey = { id: "k2", key: randomBytes(32) };
      const before = fixture.replica({ sessionKeys: [oldKey] });
      const client = browser(before);
      expect((await signIn(client)).statusCode).toBe(303);
      const rotated = fixture.replica({ sessionKeys: [newKey, oldKey] });
      const carried = client.copy();
      expect(await signedIn(new Client(rotated, nextAddress()).copyFrom(carried))).toBe(true);
      const fresh = browser(rotated);
      expect((await signIn(fresh)).statusCode).toBe(303);
      const retired = fixture.replica({ sessionKeys: [newKey] });
      expect(await signedIn(new Client(retired, nextAddress()).copyFrom(fresh))).toBe(true);
      expect(await signedIn(new Client(retired, nextAddress()).copyFrom(carried))).toBe(false);
    });
  });

  describe("secrets and replays", () => {
    it("writes no setup token, password, code or session cookie to any log line (secrets in the request log)", async () => {
      await createUser("logged");
      const token = await setupLink("logged");
      const from = logLines.length;
      await enrol("logged", token);
      const client = browser();
      const res = await passwordStep(client, "logged");
      expect(res.statusCode).toBe(303);
      const code = await freshCode("logged");
      const otp = await client.request("GET", "/login/otp");
      expect(
        (await client.request("POST", "/login/otp", { csrf: Client.csrf(otp.body), otp: code }))
          .statusCode,
      ).toBe(303);
      const cookie = client.cookie.split("=")[1] ?? "";
      const lines = logLines.slice(from).join("");
      expect(lines).toContain("sign-in"); // the audit lines are there
      for (const secret of [token, PASSWORD, code, cookie, secrets.get("logged") ?? ""])
        expect(lines).not.toContain(secret);
    });

    it("accepts one TOTP code once when it is sent twice at the same time (code replay race)", async () => {
      const a = browser();
      const b = browser();
      expect((await passwordStep(a, "alice")).statusCode).toBe(303);
      expect((await passwordStep(b, "alice")).statusCode).toBe(303);
      const [pageA, pageB] = await Promise.all([
        a.request("GET", "/login/otp"),
        b.request("GET", "/login/otp"),
      ]);
      const code = await freshCode("alice");
      const answers = await Promise.all([
        a.request("POST", "/login/otp", { csrf: Client.csrf(pageA.body), otp: code }),
        b.request("POST", "/login/otp", { csrf: Client.csrf(pageB.body), otp: code }),
      ]);
      expect(answers.map((r) => r.headers.location === "/").sort()).toEqual([false, true]);
    });

    it("uses a setup link once when it is submitted twice at the same time (setup link replay race)", async () => {
      await createUser("twice");
      const token = await setupLink("twice");
      const a = browser();
      const b = browser();
      const pages = await Promise.all(
        [a, b].map((c) => c.request("GET", `/setup?user=twice&token=${token}`)),
      );
      const secretOf = (html: string) =>
        /secret instead: <code>([A-Z2-7]+)<\/code>/.exec(html)?.[1] ?? "";
      const answers = await Promise.all(
        [a, b].map(async (c, i) =>
          c.request("POST", "/setup", {
            csrf: Client.csrf(pages[i]?.body ?? ""),
            user: "twice",
            token,
            password: `${PASSWORD} ${String(i)}`,
            otp: totpCode(secretOf(pages[i]?.body ?? ""), portalNow()),
          }),
        ),
      );
      expect(answers.map((r) => r.statusCode).sort()).toEqual([303, 410]);
    });

    it("refuses a common password on the setup page and says why (breached or guessable password)", async () => {
      await createUser("weak");
      const token = await setupLink("weak");
      const client = browser();
      const page = await client.request("GET", `/setup?user=weak&token=${token}`);
      const secret = /secret instead: <code>([A-Z2-7]+)<\/code>/.exec(page.body)?.[1] ?? "";
      for (const password of ["password1234", "qwertyuiopasdfgh", "weak@example.com"]) {
        const res = await client.request("POST", "/setup", {
          csrf: Client.csrf(page.body),
          user: "weak",
          token,
          password,
          otp: await freshCode("weak", secret),
        });
        expect([password, res.statusCode]).toEqual([password, 400]);
        expect(Client.alert(res.body)).toMatch(/^Password: .*(common|guess|name|repeat|pattern)/i);
      }
    });
  });

  describe("SAML authentication context", () => {
    it("reports the time of sign-in in AuthnInstant and password+TOTP in AuthnContextClassRef", async () => {
      const client = browser();
      expect((await signIn(client)).statusCode).toBe(303);
      const signedInAt = portalNow().getTime();
      clockOffset += 10 * 60_000;
      const page = await client.request("GET", "/applications/wiki");
      const res = await client.request("POST", "/applications/wiki", {
        csrf: Client.csrf(page.body),
      });
      expect(res.statusCode).toBe(200);
      const xml = responseXml(res.body);
      expect(await xmlsecVerifies(xml, wikiCertificate)).toBe(true);
      const authnInstant = Date.parse(/AuthnInstant="([^"]+)"/.exec(xml)?.[1] ?? "");
      expect(Math.abs(authnInstant - signedInAt)).toBeLessThan(2000);
      expect(/<saml:AuthnContextClassRef>([^<]+)</.exec(xml)?.[1]).toBe(MFA_CLASS);
      const { profile } = await wikiSp({ wantAssertionsSigned: true }).validatePostResponseAsync({
        SAMLResponse: Buffer.from(xml).toString("base64"),
      });
      expect(profile?.nameID).toBe("alice@example.com");
    });

    it("re-authenticates a signed-in user when the application sends ForceAuthn", async () => {
      const client = browser();
      expect((await signIn(client)).statusCode).toBe(303);
      clockOffset += 5 * 60_000;
      const url = await wikiRequest({ forceAuthn: true });
      const first = await client.request("GET", url);
      expect([first.statusCode, first.headers.location]).toEqual([303, "/login"]);
      const again = await signIn(client);
      expect(again.headers.location).toBe(url);
      const reauthenticatedAt = portalNow().getTime();
      const res = await clickContinue(client, await client.request("GET", url));
      expect(res.statusCode).toBe(200);
      const xml = responseXml(res.body);
      const authnInstant = Date.parse(/AuthnInstant="([^"]+)"/.exec(xml)?.[1] ?? "");
      expect(Math.abs(authnInstant - reauthenticatedAt)).toBeLessThan(2000);
      // The fresh sign-in answers that one request only: the same request again re-authenticates.
      const replay = await client.request("GET", url);
      expect([replay.statusCode, replay.headers.location]).toEqual([303, "/login"]);
    });

    it("answers NoPassive to an IsPassive request from someone not signed in", async () => {
      const sp = wikiSp({ passive: true });
      const url = new URL(await sp.getAuthorizeUrlAsync("/page", undefined, {}));
      const res = await browser().request("GET", `${url.pathname}${url.search}`);
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain(`action="${WIKI.callbackUrl}"`);
      const xml = responseXml(res.body);
      expect(xml).toContain("urn:oasis:names:tc:SAML:2.0:status:NoPassive");
      expect(xml).not.toContain("<saml:Assertion");
      expect(await xmlsecVerifies(xml, wikiCertificate, "Response")).toBe(true);
      const result = await sp.validatePostResponseAsync({
        SAMLResponse: Buffer.from(xml).toString("base64"),
      });
      expect(result.profile).toBeNull();
    });

    it("answers NoAuthnContext when the application requires a sign-in method the portal did not use", async () => {
      const client = browser();
      expect((await signIn(client)).statusCode).toBe(303);
      const smartcard = "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard";
      const sp = wikiSp({ authnContext: [smartcard], racComparison: "exact" });
      const url = new URL(await sp.getAuthorizeUrlAsync("/page", undefined, {}));
      const res = await client.request("GET", `${url.pathname}${url.search}`);
      expect(res.statusCode).toBe(200);
      const xml = responseXml(res.body);
      expect(xml).toContain("urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext");
      expect(xml).not.toContain("<saml:Assertion");
      await expect(
        sp.validatePostResponseAsync({ SAMLResponse: Buffer.from(xml).toString("base64") }),
      ).rejects.toThrow(/NoAuthnContext/);
      // A request for at least multi-factor is answered, and says so.
      const mfa = wikiSp({ authnContext: [MFA_CLASS], racComparison: "minimum" });
      const mfaUrl = new URL(await mfa.getAuthorizeUrlAsync("/page", undefined, {}));
      const ok = await clickContinue(
        client,
        await client.request("GET", `${mfaUrl.pathname}${mfaUrl.search}`),
      );
      const okXml = responseXml(ok.body);
      expect(okXml).toContain("urn:oasis:names:tc:SAML:2.0:status:Success");
      expect(/<saml:AuthnContextClassRef>([^<]+)</.exec(okXml)?.[1]).toBe(MFA_CLASS);
    });
  });

  describe("AWS credentials", () => {
    it("answers a CLI credentials request with an error page when STS never answers (a black-holed STS holds requests open)", async () => {
      // An STS that accepts connections and says nothing, as a black-holed endpoint does.
      const held: Socket[] = [];
      const blackHole = createServer((socket) => held.push(socket));
      await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
      const address = blackHole.address();
      const port = typeof address === "object" && address ? address.port : 0;
      const original = stores.identityCenters.informer.get("default")?.spec.aws;
      const pointAt = async (stsEndpoint: string | undefined) => {
        await objects.patchSpec("identitycenters", "default", {
          aws: { ...original, stsEndpoint },
        });
        await waitFor("the portal cache to see the STS endpoint", () =>
          Promise.resolve(
            stores.identityCenters.informer.get("default")?.spec.aws.stsEndpoint === stsEndpoint,
          ),
        );
      };
      try {
        await pointAt(`http://127.0.0.1:${String(port)}`);
        const replica = fixture.replica({
          stsTimeouts: { connectTimeoutMs: 1000, requestTimeoutMs: 1000 },
        });
        const client = browser(replica);
        expect((await signIn(client)).statusCode).toBe(303);
        const home = await client.request("GET", "/");
        const res = await client.request("POST", "/aws/credentials", {
          csrf: Client.csrf(home.body),
          account: "production",
          permissionSet: "read-only",
        });
        expect(res.statusCode).toBe(504);
        expect(res.body).toContain("AWS did not answer in time. Try again in a moment.");
        expect(held.length).toBeGreaterThan(0);
      } finally {
        await pointAt(original?.stsEndpoint);
        for (const socket of held) socket.destroy();
        await new Promise((resolve) => blackHole.close(resolve));
      }
    });
  });

  describe("client address and directory", () => {
    it("takes the client address from the ingress hop, not from a forged X-Forwarded-For (throttle and audit evasion)", async () => {
      const ingress = "10.0.0.1";
      const from = logLines.length;
      const forged = new Client(app, ingress, { "x-forwarded-for": "6.6.6.6, 192.0.2.7" });
      await passwordStep(forged, "alice", "wrong once");
      const audit = logLines
        .slice(from)
        .map((l) => JSON.parse(l) as { audit?: boolean; ip?: string })
        .find((l) => l.audit);
      expect(audit?.ip).toBe("192.0.2.7");
      // A new forged address per request does not escape the per-address throttle.
      const replica = fixture.replica({
        throttle: { perAddress: { max: 3, timeWindow: 60_000 }, global: { max: 1000 } },
      });
      const answers: number[] = [];
      for (let i = 0; i < 4; i++) {
        const c = new Client(replica, ingress, {
          "x-forwarded-for": `203.0.113.${String(i)}, 192.0.2.8`,
        });
        answers.push((await passwordStep(c, `spoofing-${String(i)}`, "guess")).statusCode);
      }
      expect(answers).toEqual([401, 401, 401, 429]);
      await store.update("alice", (r) => ({ ...r, failures: 0 }));
    });

    it("refuses a second User whose userName differs only in case (impersonation by case)", async () => {
      await objects.create("users", "User", "alice-shadow", {
        userName: "ALICE",
        email: "shadow@example.com",
      });
      try {
        await waitFor(
          "the shadow user to be reported as a duplicate",
          async () => {
            const shadow = await objects.get("users", "alice-shadow");
            const conditions = shadow.status?.conditions as
              { type: string; reason: string }[] | undefined;
            const ready = conditions?.find((c) => c.type === "Ready");
            return ready?.reason === "Duplicate";
          },
          15_000,
        );
        const shadow = await objects.get("users", "alice-shadow");
        const ready = (
          shadow.status?.conditions as { type: string; reason: string; message: string }[]
        ).find((c) => c.type === "Ready");
        expect(ready?.message).toContain(`"alice"`);
        // Neither can sign in while the clash lasts, whatever the case typed.
        const res = await passwordStep(browser(), "ALICE", PASSWORD);
        expect(res.statusCode).toBe(401);
      } finally {
        await objects.delete("users", "alice-shadow");
      }
    });
  });
});
