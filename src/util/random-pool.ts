import { randomBytes } from "node:crypto";

// Filled 4 KiB at a time: one call into the CSPRNG per a few hundred IDs, nonces or IVs, not
// one per value (each call costs more than the bytes). Every byte is handed out once.
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/** Where the next `n` fresh random bytes start in `pool`. */
function take(n: number): number {
  if (n > POOL_BYTES) throw new Error(`at most ${String(POOL_BYTES)} random bytes at a time`);
  if (offset + n > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const at = offset;
  offset += n;
  return at;
}

/** `n` fresh random bytes as hex (2n digits). */
export function randomHex(n: number): string {
  const at = take(n);
  return pool.toString("hex", at, at + n);
}

/** `n` fresh random bytes as base64url, as `randomBytes(n).toString("base64url")` gives them. */
export function randomBase64url(n: number): string {
  const at = take(n);
  return pool.toString("base64url", at, at + n);
}

/** Writes `n` fresh random bytes into `target` at `targetStart`. */
export function randomInto(target: Buffer, targetStart: number, n: number): void {
  const at = take(n);
  pool.copy(target, targetStart, at, at + n);
}
