import { spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { parseArgs } from "node:util";
import { populateProfiles, type RoleAccessEntry } from "../client/profiles.ts";
import {
  configFile,
  currentToken,
  readConfig,
  resolveSession,
  withSessionSections,
  writeConfig,
} from "../client/session.ts";
import { loopbackCallback, pkceRequest } from "../client/loopback.ts";
import { SsoApi, SsoCallError, type Registration, type Tokens } from "../client/sso-api.ts";
import { isoSeconds, readToken, tokenCacheFile, writeToken } from "../client/token-cache.ts";

type Out = (text: string) => void;

export const LOGIN_HELP = `Usage: idc login [--sso-session NAME | --profile NAME] [--start-url URL] [flags]

Signs in to the access portal from a terminal and writes the standard SSO token cache
(~/.aws/sso/cache), refresh token included, so that the AWS SDKs (botocore/boto3, JavaScript
v3) and CLIs get credentials with no further help. Like aws sso login, it uses the
authorization-code flow with PKCE by default: the browser opens the portal, you allow the
request, and the portal sends the browser back to a listener of idc on 127.0.0.1 (so the
browser must run on this machine). --use-device-code uses the device flow instead: approve a
code in the portal from any device (legacy profiles with sso_start_url always do).
Also writes to ~/.aws/config (or $AWS_CONFIG_FILE) the [sso-session NAME] section and a
[services idc-NAME] section pointing the SDKs' sso and sso_oidc clients at the portal.

Flags:
  --start-url URL      the portal URL (kubectl get identitycenter shows it); needed the first time
  --sso-session NAME   the sso-session to sign in (default "idc")
  --profile NAME       sign in the session of this profile (created when --start-url is given)
  --region REGION      sso_region written to the config (default us-east-1)
  --use-device-code    sign in with a device code instead of a loopback redirect
  --no-browser         print the link only; do not open a browser
`;

export const CONFIGURE_HELP = `Usage: idc configure [--sso-session NAME] [--credential-process] [--prefix TEXT]

Writes one profile per account and role you may use to ~/.aws/config, named
<prefix><account name>.<role name> (lower-case account name, dashes; the account id appended
when two accounts share a name). Profiles it wrote before for the same session whose access is
gone are removed; profiles it did not write are never changed (a name taken by one is skipped).

Flags:
  --sso-session NAME      the signed-in session (default "idc")
  --region REGION         region of the profiles (default: the session's sso_region)
  --credential-process    profiles with credential_process = idc credentials ... instead of
                          sso_* keys (for tools without SSO support)
  --idc-command CMD       how credential_process runs idc (default "idc")
  --prefix TEXT           prepended to every profile name
`;

export const CREDENTIALS_HELP = `Usage: idc credentials --account ID --role NAME [--sso-session NAME]

Prints AWS credentials for a role as credential_process JSON (Version 1), refreshing the SSO
token when it is about to expire (once, under a file lock, however many run at the same time).
Never opens a browser: when the session has ended it fails and asks for idc login.
`;

export const LOGOUT_HELP = `Usage: idc logout [--sso-session NAME | --profile NAME]

Ends the SSO session at the portal (its refresh tokens stop working) and removes the cached token.
`;

const sessionOptions = {
  "sso-session": { type: "string" },
  profile: { type: "string" },
  "start-url": { type: "string" },
  region: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function sessionFlags(values: {
  profile?: string | undefined;
  "sso-session"?: string | undefined;
  "start-url"?: string | undefined;
  region?: string | undefined;
}) {
  return {
    profile: values.profile,
    ssoSession: values["sso-session"],
    startUrl: values["start-url"],
    region: values.region,
  };
}

/** Opens the link in the desktop's browser, if there is one; printing it is enough otherwise. */
function openBrowser(url: string): void {
  const command = process.platform === "darwin" ? "open" : "xdg-open";
  try {
    const child = spawn(command, [url], { stdio: "ignore", detached: true });
    child.on("error", () => undefined);
    child.unref();
  } catch {
    // no browser here
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a browser sign-in may take before idc login gives up. */
const AUTHORIZATION_TIMEOUT_MS = 10 * 60_000;

/** The device flow: print the link and code, poll until the user allows it in the portal. */
async function deviceLogin(
  api: SsoApi,
  session: { cacheKey: string; startUrl: string },
  out: Out,
  browser: boolean,
): Promise<{ client: Registration; tokens: Tokens }> {
  const cached = await readToken(session.cacheKey);
  const day = 24 * 3600_000;
  let client: Registration =
    cached?.startUrl === session.startUrl &&
    Date.parse(cached.registrationExpiresAt) > Date.now() + day
      ? {
          clientId: cached.clientId,
          clientSecret: cached.clientSecret,
          clientSecretExpiresAt: Math.floor(Date.parse(cached.registrationExpiresAt) / 1000),
        }
      : await api.register("idc");
  let device;
  try {
    device = await api.startDeviceAuthorization(client, session.startUrl);
  } catch (err) {
    if (!(err instanceof SsoCallError) || err.code !== "InvalidClientException") throw err;
    client = await api.register("idc"); // the cached registration is no longer accepted
    device = await api.startDeviceAuthorization(client, session.startUrl);
  }
  out(
    `To sign in, open\n\n  ${device.verificationUriComplete}\n\nand check that the portal shows the code ${device.userCode}\n`,
  );
  if (browser) openBrowser(device.verificationUriComplete);
  let interval = Math.max(1, device.interval) * 1000;
  const deadline = Date.now() + device.expiresIn * 1000;
  let tokens;
  while (!tokens) {
    await sleep(interval);
    try {
      tokens = await api.createToken(client, { deviceCode: device.deviceCode });
    } catch (err) {
      if (!(err instanceof SsoCallError)) throw err;
      if (err.code === "SlowDownException") interval += 5000;
      else if (err.code !== "AuthorizationPendingException" || Date.now() > deadline) throw err;
    }
  }
  return { client, tokens };
}

/**
 * The authorization-code flow with PKCE: a registration of its own (one for the device flow
 * has no redirect URI), a loopback listener, the browser to the portal's /authorize, and the
 * code it sends back exchanged with the verifier.
 */
async function pkceLogin(
  api: SsoApi,
  out: Out,
  browser: boolean,
): Promise<{ client: Registration; tokens: Tokens }> {
  const client = await api.register("idc", "pkce");
  const request = pkceRequest();
  const callback = await loopbackCallback(request.state, AUTHORIZATION_TIMEOUT_MS);
  const url = api.authorizeUrl(client, { ...request, redirectUri: callback.redirectUri });
  out(`To sign in, open\n\n  ${url}\n\nin a browser on this machine and allow the request.\n`);
  if (browser) openBrowser(url);
  const code = await callback.code;
  const tokens = await api.createToken(client, {
    code,
    redirectUri: callback.redirectUri,
    codeVerifier: request.verifier,
  });
  return { client, tokens };
}

export async function runLogin(argv: string[], out: Out): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...sessionOptions,
      "no-browser": { type: "boolean" },
      "use-device-code": { type: "boolean" },
    },
  });
  if (values.help) {
    out(LOGIN_HELP);
    return 0;
  }
  if (values.profile !== undefined && values["sso-session"] !== undefined)
    throw new Error("give --profile or --sso-session, not both");
  const config = await readConfig();
  const session = resolveSession(config, sessionFlags(values));
  const api = new SsoApi(session.endpoints);
  // As the AWS CLI: legacy profiles (no sso-session) only know the device flow.
  const { client, tokens } =
    values["use-device-code"] || session.name === undefined
      ? await deviceLogin(api, session, out, !values["no-browser"])
      : await pkceLogin(api, out, !values["no-browser"]);
  await writeToken(session.cacheKey, {
    startUrl: session.startUrl,
    region: session.region,
    accessToken: tokens.accessToken,
    expiresAt: isoSeconds(new Date(Date.now() + tokens.expiresIn * 1000)),
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    registrationExpiresAt: isoSeconds(new Date(client.clientSecretExpiresAt * 1000)),
    ...(tokens.refreshToken ? { refreshToken: tokens.refreshToken } : {}),
  });
  await writeConfig(withSessionSections(await readConfig(), session, values.profile));
  out(
    `Signed in. Token cached in ${tokenCacheFile(session.cacheKey)}; ${configFile()} has ` +
      `${session.name ? `[sso-session ${session.name}] and ` : ""}[services ${session.servicesName}].\n` +
      `Run idc configure to write a profile for every account and role.\n`,
  );
  return 0;
}

/**
 * Every account and role of the session, fetched a few accounts at a time (what `idc
 * configure` walks; bench/sso-account-walk.ts times it).
 */
export async function listAccess(api: SsoApi, token: string): Promise<RoleAccessEntry[]> {
  const accounts = await api.listAccounts(token);
  const access: RoleAccessEntry[] = [];
  let next = 0;
  const worker = async () => {
    while (next < accounts.length) {
      const account = accounts[next++];
      if (!account) break;
      for (const role of await api.listAccountRoles(token, account.accountId))
        access.push({
          accountId: account.accountId,
          accountName: account.accountName,
          roleName: role.roleName,
        });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return access;
}

export async function runConfigure(argv: string[], out: Out): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...sessionOptions,
      "credential-process": { type: "boolean" },
      "idc-command": { type: "string", default: "idc" },
      prefix: { type: "string", default: "" },
    },
  });
  if (values.help) {
    out(CONFIGURE_HELP);
    return 0;
  }
  const config = await readConfig();
  const session = resolveSession(config, sessionFlags({ ...values, region: undefined }));
  if (session.name === undefined)
    throw new Error("idc configure needs an sso-session (legacy profiles cannot refresh)");
  const token = await currentToken(session);
  const access = await listAccess(new SsoApi(session.endpoints), token.accessToken);
  const result = populateProfiles(withSessionSections(config, session, undefined), access, {
    session: session.name,
    region: values.region ?? session.region,
    services: session.servicesName,
    prefix: values.prefix,
    ...(values["credential-process"] ? { credentialProcess: values["idc-command"] } : {}),
  });
  await writeConfig(result.config);
  for (const name of result.written) out(`profile ${name}\n`);
  for (const name of result.removed) out(`removed profile ${name} (no access any more)\n`);
  for (const name of result.skipped)
    out(`skipped profile ${name}: it exists and was not written by idc configure\n`);
  return 0;
}

export async function runCredentials(argv: string[], out: Out): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...sessionOptions, account: { type: "string" }, role: { type: "string" } },
  });
  if (values.help || !values.account || !values.role) {
    out(CREDENTIALS_HELP);
    return values.help ? 0 : 2;
  }
  const session = resolveSession(await readConfig(), sessionFlags(values));
  const token = await currentToken(session);
  let result;
  try {
    result = await new SsoApi(session.endpoints).getRoleCredentials(
      token.accessToken,
      values.account,
      values.role,
    );
  } catch (err) {
    if (err instanceof SsoCallError && err.status === 403)
      throw new Error(`you may not use ${values.role} in account ${values.account}`, {
        cause: err,
      });
    throw err;
  }
  const c = result.roleCredentials;
  out(
    `${JSON.stringify({
      Version: 1,
      AccessKeyId: c.accessKeyId,
      SecretAccessKey: c.secretAccessKey,
      SessionToken: c.sessionToken,
      Expiration: new Date(c.expiration).toISOString(),
    })}\n`,
  );
  return 0;
}

export async function runLogout(argv: string[], out: Out): Promise<number> {
  const { values } = parseArgs({ args: argv, options: sessionOptions });
  if (values.help) {
    out(LOGOUT_HELP);
    return 0;
  }
  const session = resolveSession(await readConfig(), sessionFlags(values));
  const cached = await readToken(session.cacheKey);
  if (cached) {
    try {
      await new SsoApi(session.endpoints).logout(cached.accessToken);
    } catch (err) {
      // An expired or revoked token has nothing left to end at the portal.
      if (!(err instanceof SsoCallError) || err.status !== 401) throw err;
    }
    await rm(tokenCacheFile(session.cacheKey), { force: true });
  }
  out("Signed out.\n");
  return 0;
}
