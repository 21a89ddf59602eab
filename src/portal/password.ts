import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { ZxcvbnFactory } from "@zxcvbn-ts/core";
import * as common from "@zxcvbn-ts/language-common";
import * as english from "@zxcvbn-ts/language-en";

/**
 * scrypt at OWASP's recommended cost (N=2^17, r=8, p=1). Node refuses N*r*128 bytes above its
 * default 32 MiB `maxmem`, so the limit is raised explicitly to what these parameters need.
 */
export const SCRYPT_PARAMS = { N: 2 ** 17, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const MAXMEM = 128 * SCRYPT_PARAMS.N * SCRYPT_PARAMS.r * 2;

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;

function derive(password: string, salt: Buffer, params: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize("NFKC"),
      salt,
      KEY_LENGTH,
      { ...params, maxmem: MAXMEM },
      (err, key) => {
        if (err) reject(err);
        else resolve(key);
      },
    );
  });
}

// Built on first use: the dictionaries take a few MB and a moment to index.
let strength: ZxcvbnFactory | undefined;
const estimator = () =>
  (strength ??= new ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...english.dictionary },
    graphs: common.adjacencyGraphs,
    translations: english.translations,
  }));

/** zxcvbn's scale: 3 is "safely unguessable: moderate protection from offline attacks". */
const MIN_STRENGTH = 3;

/**
 * Why a new password is not acceptable: its length, or that it is common, a known breached
 * password, a keyboard pattern, or made of the user's own names (`userInputs`), as
 * NIST 800-63B asks; no composition rules.
 */
export function passwordProblem(password: string, userInputs: string[] = []): string | undefined {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return `use at least ${String(MIN_PASSWORD_LENGTH)} characters`;
  if (length > MAX_PASSWORD_LENGTH) return `use at most ${String(MAX_PASSWORD_LENGTH)} characters`;
  const result = estimator().check(password, userInputs);
  if (result.score >= MIN_STRENGTH) return undefined;
  const why = (result.feedback.warning ?? "it is too easy to guess").replace(/\.$/, "");
  const hint = result.feedback.suggestions[0]?.replace(/\.$/, "");
  return `${why.charAt(0).toLowerCase()}${why.slice(1)}${hint ? `; ${hint.toLowerCase()}` : ""}`;
}

/** `scrypt$N$r$p$salt$hash`, all that verification needs, parameters included. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, SCRYPT_PARAMS);
  const { N, r, p } = SCRYPT_PARAMS;
  return ["scrypt", N, r, p, salt.toString("base64"), key.toString("base64")].join("$");
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64");
  const key = await derive(password, Buffer.from(salt, "base64"), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

let dummy: Promise<string> | undefined;

/**
 * Checks a password against a hash of the same parameters that nothing can match, so that a
 * name with no password costs the same work as a wrong password (no enumeration by timing).
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummy ??= hashPassword(randomBytes(32).toString("base64"));
  await verifyPassword(password, await dummy);
  return false;
}
