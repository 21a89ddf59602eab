import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { hash, verify } from "@node-rs/argon2";
import { ZxcvbnFactory } from "@zxcvbn-ts/core";
import * as common from "@zxcvbn-ts/language-common";
import * as english from "@zxcvbn-ts/language-en";
import { DEFAULT_PASSWORD_HASHING } from "../api/v1alpha1/identity-center.ts";

/** Argon2id cost: memory in KiB, passes over it, lanes. */
export interface Argon2Params {
  memoryKiB: number;
  iterations: number;
  parallelism: number;
}

export const DEFAULT_ARGON2: Argon2Params = DEFAULT_PASSWORD_HASHING;

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;

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

// The same password typed on two keyboards can arrive in two Unicode forms.
const normalized = (password: string) => password.normalize("NFKC");

/**
 * A PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`). The binding runs the hash on
 * libuv's thread pool, so the event loop keeps serving while it works.
 */
export function hashPassword(password: string, params = DEFAULT_ARGON2): Promise<string> {
  return hash(normalized(password), {
    // No `algorithm`: the binding's default is Argon2id (its enum is a const enum, which
    // isolated modules cannot read); the tests check the `$argon2id$` prefix.
    memoryCost: params.memoryKiB,
    timeCost: params.iterations,
    parallelism: params.parallelism,
  });
}

/** Records written before Argon2id: `scrypt$N$r$p$salt$hash`, still accepted until rehashed. */
function verifyScrypt(password: string, stored: string): Promise<boolean> {
  const [, n, r, p, salt, expectedB64] = stored.split("$");
  if (!salt || !expectedB64) return Promise.resolve(false);
  const expected = Buffer.from(expectedB64, "base64");
  const [N, R, P] = [Number(n), Number(r), Number(p)];
  return new Promise((resolve) => {
    scrypt(
      normalized(password),
      Buffer.from(salt, "base64"),
      expected.length,
      { N, r: R, p: P, maxmem: 256 * N * R },
      (err, key) => {
        resolve(!err && key.length === expected.length && timingSafeEqual(key, expected));
      },
    );
  });
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (stored.startsWith("$argon2id$")) {
    try {
      return await verify(stored, normalized(password));
    } catch {
      return false; // a malformed record verifies nothing
    }
  }
  if (stored.startsWith("scrypt$")) return verifyScrypt(password, stored);
  return false;
}

/** Whether a stored hash should be replaced by one at `params` on the next good sign-in. */
export function needsRehash(stored: string, params = DEFAULT_ARGON2): boolean {
  const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(stored);
  if (!m) return true;
  return (
    Number(m[1]) !== params.memoryKiB ||
    Number(m[2]) !== params.iterations ||
    Number(m[3]) !== params.parallelism
  );
}

// One per cost: the instance's cost can change while the portal runs.
const dummies = new Map<string, Promise<string>>();

/**
 * Checks a password against an Argon2id hash at `params` (the cost new hashes get) that
 * nothing can match, so that a name with no password costs the same work as a wrong password
 * of a user whose record is current (no enumeration by timing).
 */
export async function verifyAgainstDummy(
  password: string,
  params = DEFAULT_ARGON2,
): Promise<false> {
  const key = `${String(params.memoryKiB)},${String(params.iterations)},${String(params.parallelism)}`;
  let dummy = dummies.get(key);
  if (!dummy) {
    dummy = hashPassword(randomBytes(32).toString("base64"), params);
    dummies.set(key, dummy);
  }
  await verifyPassword(password, await dummy);
  return false;
}
