import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";

/** The SSO token cache file, as botocore and the JS SDK read and refresh it. */
export interface CachedToken {
  startUrl: string;
  region: string;
  accessToken: string;
  /** UTC, `YYYY-MM-DDTHH:MM:SSZ`. */
  expiresAt: string;
  clientId: string;
  clientSecret: string;
  registrationExpiresAt: string;
  refreshToken?: string;
}

export const ssoCacheDir = () => path.join(homedir(), ".aws", "sso", "cache");

/** The file name the SDKs look for: sha1 of the sso-session name (or of a legacy start URL). */
export function tokenCacheFile(cacheKey: string): string {
  return path.join(
    ssoCacheDir(),
    `${createHash("sha1").update(cacheKey, "utf8").digest("hex")}.json`,
  );
}

/** Timestamps the way botocore writes them (both SDKs read this form). */
export const isoSeconds = (date: Date) => `${date.toISOString().slice(0, 19)}Z`;

export async function readToken(cacheKey: string): Promise<CachedToken | undefined> {
  try {
    return JSON.parse(await readFile(tokenCacheFile(cacheKey), "utf8")) as CachedToken;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Written to a temporary file and renamed: a reader never sees half a token. Owner-only. */
export async function writeToken(cacheKey: string, token: CachedToken): Promise<void> {
  const file = tokenCacheFile(cacheKey);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  await writeFile(temp, `${JSON.stringify(token, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, file);
}
