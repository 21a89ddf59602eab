import { execFile } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import {
  GetRoleCredentialsCommand,
  ListAccountRolesCommand,
  ListAccountsCommand,
  LogoutCommand,
  SSOClient,
} from "@aws-sdk/client-sso";
import {
  AuthorizationPendingException,
  CreateTokenCommand,
  ExpiredTokenException,
  InvalidClientException,
  InvalidGrantException,
  RegisterClientCommand,
  SlowDownException,
  SSOOIDCClient,
  StartDeviceAuthorizationCommand,
} from "@aws-sdk/client-sso-oidc";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashPassword } from "../../../src/portal/password.ts";
import { resetRecord } from "../../../src/identity/credentials.ts";
import { newTotpSecret } from "../../../src/portal/mfa.ts";
import { totpCode } from "../../harness/totp.ts";
import { boto3Python } from "../../harness/boto3.ts";
import { launchChromium } from "../../harness/browser.ts";
import { spawnCli } from "../../harness/cli-process.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { repoRoot } from "../../harness/paths.ts";
import { freePort } from "../../harness/ports.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { waitFor } from "../../harness/wait.ts";
import { A, B, startPortalFixture } from "../portal/fixture.ts";

const run = promisify(execFile);
const PASSWORD = "a long enough passphrase";
const DEVICE = "urn:ietf:params:oauth:grant-type:device_code";
const HERE = path.join(repoRoot, "test/integration/sso");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("CLI and SDK sign-in with the real AWS SDKs (botocore/boto3, JS v3) and Chromium", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles(), moto: true });
  let fixture: Awaited<ReturnType<typeof startPortalFixture>>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let portalUrl = "";
  let home = "";
  let python = "";
  let oidc: SSOOIDCClient;
  let sso: SSOClient;
  const totpSecret = newTotpSecret();
  // The portal's clock: each sign-in moves it a TOTP step on (a code is used once), and the
  // abandoned-code test moves it past a device code's life.
  let clockOffset = 0;
  const portalNow = () => new Date(Date.now() + clockOffset);

  /** The environment of a user's terminal: a home of its own, nothing of the test's AWS. */
  const userEnv = () => ({
    PATH: process.env.PATH ?? "",
    HOME: home,
    AWS_CONFIG_FILE: path.join(home, ".aws/config"),
    AWS_SHARED_CREDENTIALS_FILE: path.join(home, ".aws/credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
  });
  const idcCommand = `${process.execPath} ${path.join(repoRoot, "src/cli.ts")}`;

  async function idc(args: string[]) {
    try {
      const { stdout } = await run(process.execPath, [path.join(repoRoot, "src/cli.ts"), ...args], {
        env: userEnv(),
      });
      return { code: 0, stdout, stderr: "" };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  /** Who boto3 (`boto3_identity.py`) or the JS SDK (`js-sdk-identity.ts`) is with a profile. */
  async function identity(sdk: "boto3" | "js", profile: string) {
    const [command, script] =
      sdk === "boto3"
        ? [python, path.join(HERE, "boto3_identity.py")]
        : [process.execPath, path.join(HERE, "js-sdk-identity.ts")];
    try {
      // The JS SDK's nested SSO clients read the services section of AWS_PROFILE's profile,
      // not of the profile fromIni is given: JS users select the profile with AWS_PROFILE.
      const { stdout } = await run(command, [script, profile, env().moto.endpoint], {
        env: { ...userEnv(), ...(sdk === "js" ? { AWS_PROFILE: profile } : {}) },
      });
      return { ok: true, ...(JSON.parse(stdout) as { Account: string; Arn: string }) };
    } catch (err) {
      return { ok: false, Account: "", Arn: "", error: (err as { stderr: string }).stderr };
    }
  }

  const cacheFile = (session: string) =>
    path.join(home, ".aws/sso/cache", `${createHash("sha1").update(session).digest("hex")}.json`);
  const readCache = async (session: string) =>
    JSON.parse(await readFile(cacheFile(session), "utf8")) as Record<string, string>;
  /** Time passes on the user's machine: the cached access token is past its expiry. */
  async function expireCache(session: string) {
    const cached = await readCache(session);
    await writeFile(
      cacheFile(session),
      JSON.stringify({ ...cached, expiresAt: "2020-01-01T00:00:00Z" }),
    );
  }

  async function signIn() {
    await page.goto(`${portalUrl}/login`);
    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', PASSWORD);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${portalUrl}/login/otp`);
    clockOffset += 30_000;
    await page.fill('input[name="otp"]', totpCode(totpSecret, portalNow()));
    await page.click('button[type="submit"]');
  }

  /** Alice opens the verification link, sees the code and the client, and allows it. */
  async function approve(link: string, expected: { userCode: string; clientName: string }) {
    await page.goto(link);
    expect(await page.locator("#user-code").textContent()).toBe(expected.userCode);
    expect(await page.locator("#client-name").textContent()).toBe(expected.clientName);
    await page.click('button[value="allow"]');
    await page.waitForSelector("#done");
    expect(await page.locator("#done").textContent()).toBe("Access allowed");
  }

  async function tokenCalls(): Promise<number> {
    const { values } = await fixture.metrics.requests.get();
    return values
      .filter((v) => v.metricName?.endsWith("_count") && v.labels.route === "/sso/oidc/token")
      .reduce((sum, v) => sum + v.value, 0);
  }

  beforeAll(async () => {
    const port = await freePort();
    portalUrl = `http://127.0.0.1:${String(port)}`;
    fixture = await startPortalFixture(env(), {
      externalUrl: portalUrl,
      signInUrl: "https://signin.aws.amazon.com/saml",
      now: portalNow,
    });
    await fixture.app.listen({ host: "127.0.0.1", port });
    const passwordHash = await hashPassword(PASSWORD);
    await fixture.store.update("alice", (r) => ({ ...r, passwordHash, totpSecret }));
    [browser, python, home] = await Promise.all([
      launchChromium(),
      boto3Python(),
      mkdtemp(path.join(env().workDir, "home-")),
    ]);
    context = await browser.newContext();
    page = await context.newPage();
    await signIn();
    await page.waitForURL(`${portalUrl}/`);
    oidc = new SSOOIDCClient({ region: "us-east-1", endpoint: `${portalUrl}/sso/oidc` });
    sso = new SSOClient({ region: "us-east-1", endpoint: `${portalUrl}/sso/portal` });
  });
  afterAll(async () => {
    await browser.close();
    await fixture.stop();
  });

  let sdkTokens = { accessToken: "", refreshToken: "", clientId: "", clientSecret: "" };

  it("the JS SDK registers, is told to wait and to slow down, and gets tokens once alice allows the code in Chromium", async () => {
    const registered = await oidc.send(
      new RegisterClientCommand({
        clientName: "sdk-test",
        clientType: "public",
        scopes: ["sso:account:access"],
      }),
    );
    const nowSeconds = Date.now() / 1000;
    expect(registered.clientSecretExpiresAt).toBeGreaterThan(nowSeconds + 80 * 86400);
    expect(registered.clientSecretExpiresAt).toBeLessThan(nowSeconds + 100 * 86400);
    const client = {
      clientId: registered.clientId ?? "",
      clientSecret: registered.clientSecret ?? "",
    };
    const device = await oidc.send(
      new StartDeviceAuthorizationCommand({ ...client, startUrl: portalUrl }),
    );
    expect(device.verificationUri).toBe(`${portalUrl}/device`);
    expect(device.userCode).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    const create = () =>
      oidc.send(
        new CreateTokenCommand({ ...client, grantType: DEVICE, deviceCode: device.deviceCode }),
      );
    const pending = await create().catch((err: unknown) => err);
    expect(pending).toBeInstanceOf(AuthorizationPendingException);
    expect((pending as Error).message).toBe("Authorization is still pending");
    expect(await create().catch((err: unknown) => err)).toBeInstanceOf(SlowDownException);

    await approve(device.verificationUriComplete ?? "", {
      userCode: device.userCode ?? "",
      clientName: "sdk-test",
    });
    await sleep(1100);
    const tokens = await create();
    expect(tokens.tokenType).toBe("Bearer");
    expect(tokens.expiresIn).toBeGreaterThan(3500);
    expect(tokens.expiresIn).toBeLessThanOrEqual(3600);
    sdkTokens = {
      ...client,
      accessToken: tokens.accessToken ?? "",
      refreshToken: tokens.refreshToken ?? "",
    };
    expect(sdkTokens.refreshToken).not.toBe("");
    await sleep(1100);
    // A device code gives tokens once.
    expect(await create().catch((err: unknown) => err)).toBeInstanceOf(InvalidGrantException);
  });

  it("lists alice's accounts and roles and gets credentials that act in Production (moto); Staging is 403", async () => {
    const { accessToken } = sdkTokens;
    const accounts = await sso.send(new ListAccountsCommand({ accessToken }));
    expect(accounts.accountList).toEqual([{ accountId: A, accountName: "Production" }]);
    const roles = await sso.send(new ListAccountRolesCommand({ accessToken, accountId: A }));
    expect(roles.roleList).toEqual([{ roleName: "ReadOnlyAccess", accountId: A }]);
    const out = await sso.send(
      new GetRoleCredentialsCommand({ accessToken, accountId: A, roleName: "ReadOnlyAccess" }),
    );
    const c = out.roleCredentials;
    // Epoch milliseconds, about an hour (the permission set's session) from now.
    expect(c?.expiration).toBeGreaterThan(Date.now() + 3000_000);
    expect(c?.expiration).toBeLessThan(Date.now() + 3700_000);
    const who = await env()
      .moto.sts({
        accessKeyId: c?.accessKeyId ?? "",
        secretAccessKey: c?.secretAccessKey ?? "",
        sessionToken: c?.sessionToken ?? "",
      })
      .send(new GetCallerIdentityCommand({}));
    expect(who.Account).toBe(A);

    const denied = await sso
      .send(
        new GetRoleCredentialsCommand({ accessToken, accountId: B, roleName: "ReadOnlyAccess" }),
      )
      .catch((err: unknown) => err as Error & { $metadata: { httpStatusCode: number } });
    expect((denied as Error).name).toBe("ForbiddenException");
    expect((denied as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(
      403,
    );
    const forged = await sso
      .send(new ListAccountsCommand({ accessToken: `${accessToken.slice(0, -4)}AAAA` }))
      .catch((err: unknown) => err as Error);
    expect((forged as Error).name).toBe("UnauthorizedException");
  });

  it("refuses a wrong client secret with InvalidClientException", async () => {
    const err = await oidc
      .send(
        new CreateTokenCommand({
          clientId: sdkTokens.clientId,
          clientSecret: "bm90IGEgc2VjcmV0",
          grantType: "refresh_token",
          refreshToken: sdkTokens.refreshToken,
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidClientException);
  });

  it("authorization code + PKCE: /authorize at the host root, any loopback port, code redeemed once with the verifier", async () => {
    const registered = await oidc.send(
      new RegisterClientCommand({
        clientName: "pkce-test",
        clientType: "public",
        scopes: ["sso:account:access"],
        grantTypes: ["authorization_code", "refresh_token"],
        redirectUris: ["http://127.0.0.1/oauth/callback"],
        issuerUrl: portalUrl,
      }),
    );
    const client = {
      clientId: registered.clientId ?? "",
      clientSecret: registered.clientSecret ?? "",
    };
    // The loopback listener the AWS CLI opens, on a port of its choosing.
    const callbackPort = await freePort();
    const received = new Promise<URL>((resolve) => {
      const server: Server = createServer((req, res) => {
        res.end("You can close this window.");
        server.close();
        resolve(new URL(req.url ?? "/", `http://127.0.0.1:${String(callbackPort)}`));
      }).listen(callbackPort, "127.0.0.1");
    });
    const redirectUri = `http://127.0.0.1:${String(callbackPort)}/oauth/callback`;
    const verifier = randomBytes(48).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const state = randomUUID();
    // Built as awscli's SSOTokenFetcherAuth builds it: only the host of the OIDC endpoint.
    const authorize = new URL(`${new URL(`${portalUrl}/sso/oidc`).origin}/authorize`);
    for (const [k, v] of Object.entries({
      response_type: "code",
      client_id: client.clientId,
      redirect_uri: redirectUri,
      state,
      code_challenge_method: "S256",
      scopes: "sso:account:access",
      code_challenge: challenge,
    }))
      authorize.searchParams.set(k, v);
    await page.goto(authorize.toString());
    expect(await page.locator("#client-name").textContent()).toBe("pkce-test");
    await page.click('button[value="allow"]');
    const callback = await received;
    expect(callback.searchParams.get("state")).toBe(state);
    const code = callback.searchParams.get("code") ?? "";
    const exchange = (codeVerifier: string) =>
      oidc.send(
        new CreateTokenCommand({
          ...client,
          grantType: "authorization_code",
          code,
          redirectUri,
          codeVerifier,
        }),
      );
    expect(
      await exchange(randomBytes(48).toString("base64url")).catch((e: unknown) => e),
    ).toBeInstanceOf(InvalidGrantException);
    const tokens = await exchange(verifier);
    const accounts = await sso.send(new ListAccountsCommand({ accessToken: tokens.accessToken }));
    expect(accounts.accountList?.map((a) => a.accountId)).toEqual([A]);
    // A stolen code is worth nothing the second time, even with the verifier.
    expect(await exchange(verifier).catch((e: unknown) => e)).toBeInstanceOf(InvalidGrantException);
  });

  it("refuses an authorization request for a redirect URI the client did not register (codes sent elsewhere)", async () => {
    const registered = await oidc.send(
      new RegisterClientCommand({
        clientName: "pkce-test",
        clientType: "public",
        redirectUris: ["http://127.0.0.1/oauth/callback"],
      }),
    );
    const url = new URL(`${portalUrl}/authorize`);
    for (const [k, v] of Object.entries({
      response_type: "code",
      client_id: registered.clientId ?? "",
      redirect_uri: "https://attacker.example/oauth/callback",
      state: "s",
      code_challenge_method: "S256",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    }))
      url.searchParams.set(k, v);
    const response = await page.goto(url.toString());
    expect(response?.status()).toBe(400);
    expect(await page.content()).toContain("did not register");
  });

  it("idc login --use-device-code writes the token cache and config; boto3 and fromIni get credentials for Production through idc configure's profile", async () => {
    await mkdir(path.join(home, ".aws"), { recursive: true });
    const own = "[profile mine]\nregion = eu-west-1\n# a comment of the user's\n";
    await writeFile(path.join(home, ".aws/config"), own);
    const logFile = path.join(env().workDir, "idc-login.log");
    const login = spawnCli(
      [
        "login",
        "--start-url",
        portalUrl,
        "--sso-session",
        "it",
        "--use-device-code",
        "--no-browser",
      ],
      { logFile, env: userEnv() },
    );
    let link = "";
    await waitFor("idc login to print the link", async () => {
      const log = await readFile(logFile, "utf8").catch(() => "");
      link = /(http\S+\/device\?ticket=\S+)/.exec(log)?.[1] ?? "";
      return link !== "";
    });
    const log = await readFile(logFile, "utf8");
    const userCode = /the code ([A-Z]{4}-[A-Z]{4})/.exec(log)?.[1] ?? "";
    await approve(link, { userCode, clientName: "idc" });
    expect(await login.exited).toBe(0);

    const cached = await readCache("it");
    expect(cached.startUrl).toBe(portalUrl);
    expect(cached.refreshToken).toBeTruthy();
    expect(cached.clientId).toBeTruthy();
    expect(cached.clientSecret).toBeTruthy();
    expect(Date.parse(cached.registrationExpiresAt ?? "")).toBeGreaterThan(Date.now());
    expect(cached.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const configured = await idc(["configure", "--sso-session", "it"]);
    expect(configured.stdout).toBe("profile production.ReadOnlyAccess\n");
    const config = await readFile(path.join(home, ".aws/config"), "utf8");
    expect(config.startsWith(own)).toBe(true);
    expect(config).toContain(`[services idc-it]\nsso =\n  endpoint_url = ${portalUrl}/sso/portal`);
    expect(config).toContain("[profile production.ReadOnlyAccess]\nsso_session = it\n");

    for (const sdk of ["boto3", "js"] as const) {
      const who = await identity(sdk, "production.ReadOnlyAccess");
      expect(who, `${sdk}: ${String(who.error)}`).toMatchObject({ ok: true, Account: A });
    }
  });

  it("idc login (authorization code + PKCE, the default): Chromium allows the request, the portal redirects to idc's loopback listener, which ignores a redirect with another state; boto3 gets credentials", async () => {
    const logFile = path.join(env().workDir, "idc-login-pkce.log");
    const login = spawnCli(
      ["login", "--start-url", portalUrl, "--sso-session", "pkce", "--no-browser"],
      {
        logFile,
        env: userEnv(),
      },
    );
    let link = "";
    await waitFor("idc login to print the link", async () => {
      const log = await readFile(logFile, "utf8").catch(() => "");
      link = /(http\S+\/authorize\?\S+)/.exec(log)?.[1] ?? "";
      return link !== "";
    });
    const authorize = new URL(link);
    // Where the AWS CLI sends it: the host root, a loopback redirect on a port idc chose.
    expect(authorize.pathname).toBe("/authorize");
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    const redirect = new URL(authorize.searchParams.get("redirect_uri") ?? "");
    expect(redirect.hostname).toBe("127.0.0.1");
    expect(redirect.pathname).toBe("/oauth/callback");
    // Another local page cannot end the login with a code of its own.
    const stray = await fetch(`${redirect.toString()}?code=forged&state=other`);
    expect(stray.status).toBe(400);
    expect(login.child.exitCode).toBeNull();

    await page.goto(link);
    expect(await page.locator("#client-name").textContent()).toBe("idc");
    await page.click('button[value="allow"]');
    await page.waitForURL((url) => url.host === redirect.host);
    expect(await page.content()).toContain("Signed in");
    expect(await login.exited).toBe(0);

    const cached = await readCache("pkce");
    expect(cached.startUrl).toBe(portalUrl);
    expect(cached.refreshToken).toBeTruthy();
    const configured = await idc(["configure", "--sso-session", "pkce", "--prefix", "pkce-"]);
    expect(configured.stdout).toBe("profile pkce-production.ReadOnlyAccess\n");
    const who = await identity("boto3", "pkce-production.ReadOnlyAccess");
    expect(who, String(who.error)).toMatchObject({ ok: true, Account: A });
  });

  it("boto3 and the JS SDK refresh an expired token with the refresh token, without a browser", async () => {
    for (const sdk of ["boto3", "js"] as const) {
      const before = await readCache("it");
      await expireCache("it");
      const who = await identity(sdk, "production.ReadOnlyAccess");
      expect(who, `${sdk}: ${String(who.error)}`).toMatchObject({ ok: true, Account: A });
      const after = await readCache("it");
      expect(after.accessToken).not.toBe(before.accessToken);
      expect(after.refreshToken).not.toBe(before.refreshToken);
      expect(Date.parse(after.expiresAt ?? "")).toBeGreaterThan(Date.now() + 3000_000);
    }
  });

  it("idc credentials as credential_process: parallel callers refresh once", async () => {
    const configured = await idc([
      "configure",
      "--sso-session",
      "it",
      "--credential-process",
      "--idc-command",
      idcCommand,
      "--prefix",
      "cp-",
    ]);
    expect(configured.stdout).toContain("profile cp-production.ReadOnlyAccess\n");
    // The earlier profiles are the same session's: a run with another prefix replaces them.
    expect(configured.stdout).toContain("removed profile production.ReadOnlyAccess");
    const config = await readFile(path.join(home, ".aws/config"), "utf8");
    expect(config).toContain("[profile mine]\nregion = eu-west-1\n");
    const section = /\[profile cp-production\.ReadOnlyAccess\]\n([^[]*)/.exec(config)?.[1] ?? "";
    expect(section).toContain("credential_process = ");
    expect(section).not.toMatch(/^sso_/m);

    await expireCache("it");
    const before = await tokenCalls();
    const results = await Promise.all(
      Array.from({ length: 4 }, () => identity("boto3", "cp-production.ReadOnlyAccess")),
    );
    for (const who of results) expect(who).toMatchObject({ ok: true, Account: A });
    expect((await tokenCalls()) - before).toBe(1);

    const json = await idc([
      "credentials",
      "--sso-session",
      "it",
      "--account",
      A,
      "--role",
      "ReadOnlyAccess",
    ]);
    const parsed = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(parsed.Version).toBe(1);
    expect(Date.parse(String(parsed.Expiration))).toBeGreaterThan(Date.now());
    const denied = await idc([
      "credentials",
      "--sso-session",
      "it",
      "--account",
      B,
      "--role",
      "ReadOnlyAccess",
    ]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain(`you may not use ReadOnlyAccess in account ${B}`);
  }, 240_000);

  it("logout (as aws sso logout sends it) ends the session: the next refresh fails in boto3, JS and idc", async () => {
    const cached = await readCache("it");
    // Used just before, so the portal has a recent check of its grant: logout ends it anyway.
    await sso.send(new ListAccountsCommand({ accessToken: cached.accessToken }));
    await sso.send(new LogoutCommand({ accessToken: cached.accessToken }));
    const loggedOut = await sso
      .send(new ListAccountsCommand({ accessToken: cached.accessToken }))
      .catch((err: unknown) => err as Error);
    expect((loggedOut as Error).name).toBe("UnauthorizedException");
    await expireCache("it");
    const boto = await identity("boto3", "cp-production.ReadOnlyAccess");
    expect(boto.ok).toBe(false);
    expect(boto.error).toContain("run idc login --sso-session it");
    await idc(["configure", "--sso-session", "it"]).then((r) => expect(r.code).not.toBe(0));
    // The SDKs' own refresh, through the session's profile: refused too.
    await writeFile(
      path.join(home, ".aws/config"),
      `${await readFile(path.join(home, ".aws/config"), "utf8")}\n[profile direct]\nsso_session = it\nsso_account_id = ${A}\nsso_role_name = ReadOnlyAccess\nservices = idc-it\nregion = us-east-1\n`,
    );
    for (const sdk of ["boto3", "js"] as const) {
      const who = await identity(sdk, "direct");
      expect(who.ok, sdk).toBe(false);
    }
  });

  it("an abandoned device code ends with ExpiredTokenException, which stops the SDK's loop", async () => {
    const registered = await oidc.send(
      new RegisterClientCommand({ clientName: "abandoned", clientType: "public" }),
    );
    const client = {
      clientId: registered.clientId ?? "",
      clientSecret: registered.clientSecret ?? "",
    };
    const device = await oidc.send(
      new StartDeviceAuthorizationCommand({ ...client, startUrl: portalUrl }),
    );
    clockOffset += ((device.expiresIn ?? 600) + 1) * 1000;
    const err = await oidc
      .send(new CreateTokenCommand({ ...client, grantType: DEVICE, deviceCode: device.deviceCode }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpiredTokenException);
  });

  it("deactivating alice ends her SDK sessions for good; idc reset ends them too", async () => {
    const refresh = () =>
      oidc.send(
        new CreateTokenCommand({
          clientId: sdkTokens.clientId,
          clientSecret: sdkTokens.clientSecret,
          grantType: "refresh_token",
          refreshToken: sdkTokens.refreshToken,
        }),
      );
    const refreshed = await refresh();
    expect(refreshed.accessToken).toBeTruthy();
    await fixture.objects.patchSpec("users", "alice", { active: false });
    await waitFor("the portal to see alice inactive", () =>
      Promise.resolve(fixture.stores.users.informer.get("alice")?.spec.active === false),
    );
    const inactive = await sso
      .send(new ListAccountsCommand({ accessToken: refreshed.accessToken }))
      .catch((e: unknown) => e as Error);
    expect((inactive as Error).name).toBe("UnauthorizedException");
    await fixture.objects.patchSpec("users", "alice", { active: true });
    await waitFor("the portal to see alice active", () =>
      Promise.resolve(fixture.stores.users.informer.get("alice")?.spec.active === true),
    );
    expect(await refresh().catch((e: unknown) => e)).toBeInstanceOf(InvalidGrantException);

    // A new sign-in, then an administrator's reset: its refresh token stops working.
    await signIn();
    await page.waitForURL(`${portalUrl}/`);
    const device = await oidc.send(
      new StartDeviceAuthorizationCommand({
        clientId: sdkTokens.clientId,
        clientSecret: sdkTokens.clientSecret,
        startUrl: portalUrl,
      }),
    );
    await approve(device.verificationUriComplete ?? "", {
      userCode: device.userCode ?? "",
      clientName: "sdk-test",
    });
    const tokens = await oidc.send(
      new CreateTokenCommand({
        clientId: sdkTokens.clientId,
        clientSecret: sdkTokens.clientSecret,
        grantType: DEVICE,
        deviceCode: device.deviceCode,
      }),
    );
    await fixture.store.update("alice", resetRecord);
    const afterReset = await oidc
      .send(
        new CreateTokenCommand({
          clientId: sdkTokens.clientId,
          clientSecret: sdkTokens.clientSecret,
          grantType: "refresh_token",
          refreshToken: tokens.refreshToken,
        }),
      )
      .catch((e: unknown) => e);
    expect(afterReset).toBeInstanceOf(InvalidGrantException);
  });
});
