import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, randomInt } from "node:crypto";

/**
 * Everything the SSO APIs hand out (client secrets, device codes, authorization codes, access
 * and refresh tokens) is sealed with AES-256-GCM under a key derived from the session key every
 * replica reads, so any replica can check any of them and none needs a store to look them up.
 * Each kind is bound as additional data: one kind is never accepted as another, and nothing
 * sealed here opens as a session cookie (a different key).
 */
export interface SealedKinds {
  /**
   * The client id of a registration: sealed too, so that `/authorize`, which gets only the id,
   * can show the client's name and check its redirect URIs without a store.
   */
  clientId: {
    id: string;
    name: string;
    scopes: string[];
    grantTypes: string[];
    redirectUris: string[];
    issuedAt: number;
    expiresAt: number;
  };
  /** The client secret: proves the caller registered `id`. */
  clientSecret: { id: string; expiresAt: number };
  /** The device code: what the client polls with. */
  device: { clientId: string; userCode: string; nonce: string; expiresAt: number };
  /** In the verification link: lets the portal show the code and the client's name. */
  ticket: { userCode: string; nonce: string; clientName: string; expiresAt: number };
  /** An authorization code, redeemed once with the PKCE verifier. */
  code: {
    clientId: string;
    userName: string;
    grantId: string;
    redirectUri: string;
    challenge: string;
    expiresAt: number;
  };
  access: { clientId: string; userName: string; grantId: string; expiresAt: number };
  refresh: { clientId: string; userName: string; grantId: string; expiresAt: number };
}

// In the other kinds, `clientId` is the registration's inner `id`, not the sealed client id.
export type SealedKind = keyof SealedKinds;

const IV_BYTES = 12;
const TAG_BYTES = 16;

// Every SSO API call opens a token: derive each session key's token key once, not per call.
const derived = new WeakMap<Buffer, Buffer>();

/** The token key, derived from the session key so that the two never coincide. */
export function ssoTokenKey(sessionKey: Buffer): Buffer {
  let key = derived.get(sessionKey);
  if (!key) {
    key = Buffer.from(hkdfSync("sha256", sessionKey, "", "identitycenter.dev/sso-tokens", 32));
    derived.set(sessionKey, key);
  }
  return key;
}

/** The token keys now: the first seals, every one opens (they follow the session keys). */
export type TokenKeys = Buffer | readonly Buffer[];

export function seal<K extends SealedKind>(
  kind: K,
  value: SealedKinds[K],
  keys: TokenKeys,
): string {
  const key = Buffer.isBuffer(keys) ? keys : keys[0];
  if (!key) throw new Error("no token key");
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(kind));
  const body = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url");
}

/** The sealed value, or undefined when it was tampered with, is of another kind or key. */
export function open<K extends SealedKind>(
  kind: K,
  token: string,
  keys: TokenKeys,
): SealedKinds[K] | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  for (const key of Buffer.isBuffer(keys) ? [keys] : keys) {
    const value = openWith(kind, token, key);
    if (value !== undefined) return value;
  }
  return undefined;
}

function openWith<K extends SealedKind>(
  kind: K,
  token: string,
  key: Buffer,
): SealedKinds[K] | undefined {
  try {
    const raw = Buffer.from(token, "base64url");
    if (raw.length < IV_BYTES + TAG_BYTES + 2) return undefined;
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(kind));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const text = Buffer.concat([
      decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
      decipher.final(),
    ]).toString("utf8");
    return JSON.parse(text) as SealedKinds[K];
  } catch {
    return undefined;
  }
}

// No vowels or look-alikes, so a code never spells a word and reads unambiguously aloud.
const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";

/** `BCDF-GHJK`: 8 letters (20^8, about 2.6e10), what the user compares with their terminal. */
export function newUserCode(): string {
  let code = "";
  for (let i = 0; i < 8; i++)
    code += USER_CODE_ALPHABET.charAt(randomInt(USER_CODE_ALPHABET.length));
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** What a person typed, in the canonical form (case, spaces and dashes do not matter). */
export function normalizeUserCode(typed: string): string | undefined {
  const letters = typed.toUpperCase().replace(/[\s-]/g, "");
  if (letters.length !== 8 || [...letters].some((c) => !USER_CODE_ALPHABET.includes(c)))
    return undefined;
  return `${letters.slice(0, 4)}-${letters.slice(4)}`;
}

export const newId = (bytes = 16) => randomBytes(bytes).toString("base64url");
