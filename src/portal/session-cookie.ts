import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/** What the session cookie carries; the portal re-checks the user on every request. */
export interface Session {
  userName: string;
  /** The user's session epoch when signing in; a reset or deactivation bumps it. */
  epoch: number;
  /** Signed-in time and last activity, in ms since the epoch. */
  issuedAt: number;
  lastSeen: number;
  /** Per-session CSRF token for every state-changing form. */
  csrf: string;
  /** Set between password and TOTP: the password was right, the second factor is pending. */
  pendingMfa?: boolean;
  /** During setup: the TOTP secret being enrolled, until the user confirms a code. */
  pendingTotp?: string;
  /** Before sign-in: the SP-initiated sign-in (a /saml/sso URL) to resume afterwards. */
  returnTo?: string;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM: the cookie is encrypted and authenticated with one key every replica reads from
 * the same Secret, so a session works on any replica and survives restarts.
 */
export function sealSession(session: Session, key: Buffer): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(session), "utf8"), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64url");
}

export function openSession(cookie: string, key: Buffer): Session | undefined {
  try {
    const raw = Buffer.from(cookie, "base64url");
    if (raw.length < IV_BYTES + TAG_BYTES + 2) return undefined;
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const text = Buffer.concat([
      decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)),
      decipher.final(),
    ]).toString("utf8");
    return JSON.parse(text) as Session;
  } catch {
    return undefined; // tampered, truncated, or sealed with another key
  }
}

export interface SessionPolicy {
  absoluteMs: number;
  idleMs: number;
}

/** Whether a session is still usable now, given the sign-in policy and the user's epoch. */
export function sessionValid(
  session: Session,
  policy: SessionPolicy,
  currentEpoch: number,
  now: number,
): boolean {
  return (
    session.epoch === currentEpoch &&
    now - session.issuedAt <= policy.absoluteMs &&
    now - session.lastSeen <= policy.idleMs &&
    now >= session.issuedAt - 60_000
  );
}
