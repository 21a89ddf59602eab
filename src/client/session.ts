import { mkdir, readFile, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { ssoEndpoints } from "../plan/sso-endpoints.ts";
import {
  findSection,
  parseConfig,
  profileSection,
  putSection,
  sectionLines,
  sectionValues,
  serializeConfig,
  servicesLines,
  type AwsConfig,
} from "./aws-config.ts";
import { withFileLock } from "./file-lock.ts";
import { SsoApi, SsoCallError } from "./sso-api.ts";
import {
  isoSeconds,
  readToken,
  tokenCacheFile,
  writeToken,
  type CachedToken,
} from "./token-cache.ts";

export const configFile = () =>
  process.env.AWS_CONFIG_FILE ?? path.join(homedir(), ".aws", "config");

export async function readConfig(): Promise<AwsConfig> {
  try {
    return parseConfig(await readFile(configFile(), "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return parseConfig("");
    throw err;
  }
}

export async function writeConfig(config: AwsConfig): Promise<void> {
  await mkdir(path.dirname(configFile()), { recursive: true });
  await writeFile(configFile(), serializeConfig(config), { mode: 0o600 });
}

/** One SSO sign-in as the SDKs see it: where its token is cached and where it refreshes. */
export interface SsoSession {
  /** The sso-session name; undefined for a legacy profile (sso_start_url in the profile). */
  name: string | undefined;
  cacheKey: string;
  startUrl: string;
  region: string;
  endpoints: { ssoOidc: string; ssoPortal: string };
  servicesName: string;
}

export const DEFAULT_SESSION = "idc";
export const servicesName = (session: string) => `idc-${session}`;

/** The environment overrides the SDKs honour win, as they do for the SDKs themselves. */
function endpointsFor(startUrl: string) {
  const derived = ssoEndpoints(startUrl);
  return {
    ssoOidc: process.env.AWS_ENDPOINT_URL_SSO_OIDC ?? derived.ssoOidc,
    ssoPortal: process.env.AWS_ENDPOINT_URL_SSO ?? derived.ssoPortal,
  };
}

export class UsageError extends Error {}

/**
 * The session named by the flags: `--profile` (its sso_session, or its legacy sso_start_url),
 * `--sso-session`, or the default session; `--start-url` creates or updates it.
 */
export function resolveSession(
  config: AwsConfig,
  flags: {
    profile?: string | undefined;
    ssoSession?: string | undefined;
    startUrl?: string | undefined;
    region?: string | undefined;
  },
): SsoSession {
  let name = flags.ssoSession;
  let legacy: Record<string, string> | undefined;
  if (flags.profile !== undefined) {
    const section = findSection(config, profileSection(flags.profile));
    const values = section ? sectionValues(section) : {};
    if (values.sso_session) name = values.sso_session;
    else if (values.sso_start_url) legacy = values;
    else if (!flags.startUrl)
      throw new UsageError(
        `profile ${flags.profile} has no sso_session or sso_start_url; give --start-url to create it`,
      );
  }
  if (legacy) {
    const startUrl = legacy.sso_start_url ?? "";
    return {
      name: undefined,
      cacheKey: startUrl,
      startUrl,
      region: legacy.sso_region ?? flags.region ?? "us-east-1",
      endpoints: endpointsFor(startUrl),
      servicesName: legacy.services ?? servicesName(DEFAULT_SESSION),
    };
  }
  name ??= DEFAULT_SESSION;
  const section = findSection(config, `sso-session ${name}`);
  const values = section ? sectionValues(section) : {};
  const startUrl = (flags.startUrl ?? values.sso_start_url)?.replace(/\/+$/, "");
  if (!startUrl)
    throw new UsageError(
      `there is no sso-session ${name} in ${configFile()}: run idc login --start-url <portal URL>`,
    );
  if (!URL.canParse(startUrl) || !/^https?:$/.test(new URL(startUrl).protocol))
    throw new UsageError(`--start-url must be the portal's http(s) URL, not ${startUrl}`);
  return {
    name,
    cacheKey: name,
    startUrl,
    region: flags.region ?? values.sso_region ?? "us-east-1",
    endpoints: endpointsFor(startUrl),
    servicesName: servicesName(name),
  };
}

/**
 * Writes the sso-session and services sections (and the profile, when one was named) so that
 * the SDKs find the token and our endpoints. Only sections of these names are touched.
 */
export function withSessionSections(
  config: AwsConfig,
  session: SsoSession,
  profile: string | undefined,
): AwsConfig {
  let next = putSection(
    config,
    `services ${session.servicesName}`,
    servicesLines(session.endpoints),
  );
  if (session.name !== undefined) {
    next = putSection(
      next,
      `sso-session ${session.name}`,
      sectionLines([
        ["sso_start_url", session.startUrl],
        ["sso_region", session.region],
        ["sso_registration_scopes", "sso:account:access"],
      ]),
    );
    if (profile !== undefined) {
      const existing = findSection(next, profileSection(profile));
      const values = existing ? sectionValues(existing) : {};
      next = putSection(
        next,
        profileSection(profile),
        sectionLines(
          Object.entries({
            ...values,
            sso_session: session.name,
            services: session.servicesName,
            region: values.region ?? session.region,
          }),
        ),
      );
    }
  }
  return next;
}

/** Refresh when less than this is left, like the JS SDK (botocore: 15 minutes). */
const REFRESH_MARGIN_MS = 5 * 60_000;

export class LoginNeeded extends Error {}

const remaining = (t: CachedToken) => Date.parse(t.expiresAt) - Date.now();

/**
 * A token with some life left, refreshed (once, under a lock, whoever else is asking at the
 * same time) with the cached refresh token. Never starts a browser sign-in.
 */
export async function currentToken(session: SsoSession): Promise<CachedToken> {
  const relogin = `run idc login${session.name ? ` --sso-session ${session.name}` : ""}`;
  const cached = await readToken(session.cacheKey);
  if (!cached) throw new LoginNeeded(`not signed in: ${relogin}`);
  if (remaining(cached) > REFRESH_MARGIN_MS) return cached;
  return withFileLock(`${tokenCacheFile(session.cacheKey)}.lock`, async () => {
    const token = (await readToken(session.cacheKey)) ?? cached;
    if (remaining(token) > REFRESH_MARGIN_MS) return token; // another process refreshed it
    if (!token.refreshToken || Date.parse(token.registrationExpiresAt) <= Date.now()) {
      if (remaining(token) > 0) return token;
      throw new LoginNeeded(`the SSO session has expired: ${relogin}`);
    }
    let tokens;
    try {
      tokens = await new SsoApi(session.endpoints).createToken(token, {
        refreshToken: token.refreshToken,
      });
    } catch (err) {
      if (err instanceof SsoCallError && err.status < 500)
        throw new LoginNeeded(`the SSO session has ended (${err.message}): ${relogin}`);
      throw err;
    }
    const next: CachedToken = {
      ...token,
      accessToken: tokens.accessToken,
      expiresAt: isoSeconds(new Date(Date.now() + tokens.expiresIn * 1000)),
      ...(tokens.refreshToken ? { refreshToken: tokens.refreshToken } : {}),
    };
    await writeToken(session.cacheKey, next);
    return next;
  });
}
