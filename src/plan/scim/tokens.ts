/**
 * SCIM bearer tokens: 256 random bits, shown once; only their SHA-256 is stored (a fast hash is
 * enough for a secret of that entropy, and keeps every SCIM request cheap). A token is found by
 * comparing its hash with each stored one in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const TOKEN_PREFIX = "idcscim_";

/** What is stored of one token, under its name. */
export interface ScimTokenRecord {
  sha256: string;
  createdAt: string;
  /** ISO time after which the token is refused; none: it lasts until revoked. */
  expiresAt?: string;
}

export type ScimTokenRecords = Record<string, ScimTokenRecord>;

/** A token name: a Secret data key, short and readable. */
export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The Secret (operator namespace) with an instance's token hashes; the portal reads it by name. */
export const scimTokensSecretName = (instance: string) => `identitycenter-${instance}-scim-tokens`;

const hashOf = (token: string) => createHash("sha256").update(token, "utf8").digest();

export function newScimToken(
  now: Date,
  expiresAt?: Date,
): { token: string; record: ScimTokenRecord } {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  return {
    token,
    record: {
      sha256: hashOf(token).toString("hex"),
      createdAt: now.toISOString(),
      ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
    },
  };
}

/** The name of the stored, unexpired token `presented` is, or undefined. */
export function verifyScimToken(
  presented: string,
  records: ScimTokenRecords,
  now: Date,
): string | undefined {
  const hash = hashOf(presented);
  let found: string | undefined;
  // Every record is compared, so the time taken does not tell which one (or none) matched.
  for (const [name, record] of Object.entries(records)) {
    const stored = Buffer.from(record.sha256, "hex");
    const same = stored.length === hash.length && timingSafeEqual(stored, hash);
    const live = record.expiresAt === undefined || Date.parse(record.expiresAt) > now.getTime();
    if (same && live) found = name;
  }
  return found;
}

/** `--expires`: 30d, 12h, 1y, 6m (months) or "never"; undefined is the default of one year. */
export function expiryFrom(now: Date, value: string | undefined): Date | undefined {
  const text = value ?? "1y";
  if (text === "never") return undefined;
  const m = /^(\d+)(h|d|w|m|y)$/.exec(text);
  if (!m || Number(m[1]) < 1)
    throw new Error(`--expires must be like 12h, 30d, 8w, 6m, 1y or never, got "${text}"`);
  const n = Number(m[1]);
  const at = new Date(now);
  if (m[2] === "h") at.setUTCHours(at.getUTCHours() + n);
  else if (m[2] === "d") at.setUTCDate(at.getUTCDate() + n);
  else if (m[2] === "w") at.setUTCDate(at.getUTCDate() + 7 * n);
  else if (m[2] === "m") at.setUTCMonth(at.getUTCMonth() + n);
  else at.setUTCFullYear(at.getUTCFullYear() + n);
  return at;
}

/** The records in a Secret's data (base64 values of JSON); a malformed entry is skipped. */
export function recordsFromSecretData(data: Record<string, string> | undefined): ScimTokenRecords {
  const records: ScimTokenRecords = {};
  for (const [name, value] of Object.entries(data ?? {})) {
    try {
      const parsed = JSON.parse(Buffer.from(value, "base64").toString("utf8")) as ScimTokenRecord;
      if (typeof parsed.sha256 === "string" && typeof parsed.createdAt === "string")
        records[name] = parsed;
    } catch {
      // not one of ours: never a token
    }
  }
  return records;
}
