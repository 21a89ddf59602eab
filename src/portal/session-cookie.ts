import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  type KeyObject,
} from "node:crypto";
import { randomInto } from "../util/random-pool.ts";

/** How a user proved who they are, strongest last. */
export type AuthnMethod =
  "password" | "password+totp" | "upstream" | "upstream+mfa" | "upstream+totp";

/** A sign-in through the upstream identity provider started here: checked at the callback. */
export interface UpstreamFlow {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** When it started (ms); a flow is good for UPSTREAM_FLOW_MS. */
  startedAt: number;
  /** The sign-in answers a ForceAuthn request: the upstream must authenticate afresh. */
  forced?: boolean;
}

/** How long the user has at the upstream's login page before the flow must start again. */
export const UPSTREAM_FLOW_MS = 10 * 60_000;

/** What the session cookie carries; the portal re-checks the user on every request. */
export interface Session {
  userName: string;
  /**
   * Random id of a signed-in (or half-signed-in) session; the credential record lists the ids
   * it still honours, so a copied cookie dies with sign-out.
   */
  id?: string;
  /** When and how the user signed in (for the SAML AuthnStatement). */
  authnAt?: number;
  authnMethod?: AuthnMethod;
  /** The id of the ForceAuthn AuthnRequest this fresh sign-in answers (used once). */
  freshFor?: string;
  /** Before sign-in: the ForceAuthn AuthnRequest that asked for a new sign-in. */
  forceFor?: string;
  /**
   * The uid of the User who signed in. A session never passes to another User given the same
   * userName later (deleted and created again, or renamed to it).
   */
  uid?: string;
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
  /**
   * Before sign-in: the AuthnRequest sent to the upstream SAML IdP (its ID, when, in ms), so
   * only the answer to this browser's own request is accepted.
   */
  upstreamRequest?: { id: string; at: number };
  /** Before sign-in: the upstream sign-in in progress (state, nonce, PKCE verifier). */
  upstreamFlow?: UpstreamFlow;
  /**
   * A sign-in through the upstream: when the upstream's statement (id_token, assertion) ends,
   * ours ends too, and where sign-out sends the user to end the upstream's session.
   */
  upstream?: { notAfter: number; endSessionUrl?: string };
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A session key and its id, which the cookie names so the key can be rotated. */
export interface SessionKey {
  id: string;
  key: Buffer;
}

/** The id of a key read from a Secret: a short hash, so the Secret needs to store no ids. */
export function sessionKeyId(key: Buffer): string {
  return createHash("sha256").update(key).digest("base64url").slice(0, 8);
}

/**
 * The keys sessions are sealed with: the first seals, every one opens. After a rotation the
 * previous key stays in the list until the sessions it sealed have expired.
 */
export type SessionKeyRing = readonly SessionKey[];

/**
 * A key as the cipher takes it: a KeyObject (given a Buffer, Node checks and wraps the key anew
 * on every call, which cost four times the AES-GCM of a cookie) and the id as additional data.
 * Made once per key; the ring's keys are replaced, not changed, when they are read again.
 */
const prepared = new WeakMap<SessionKey, { secret: KeyObject; aad: Buffer }>();
function preparedKey(key: SessionKey): { secret: KeyObject; aad: Buffer } {
  let ready = prepared.get(key);
  if (!ready) {
    ready = { secret: createSecretKey(key.key), aad: Buffer.from(key.id) };
    prepared.set(key, ready);
  }
  return ready;
}

/**
 * AES-256-GCM: the cookie is encrypted and authenticated with one key every replica reads from
 * the same Secret, so a session works on any replica and survives restarts. The key id is
 * bound as additional data, so a cookie cannot be moved to another key's name.
 */
export function sealSession(session: Session, keys: SessionKeyRing): string {
  const current = keys[0];
  if (!current) throw new Error("no session key");
  const { secret, aad } = preparedKey(current);
  const plain = Buffer.from(JSON.stringify(session), "utf8");
  // IV, ciphertext and tag written into one buffer (GCM's ciphertext is as long as the text).
  const sealed = Buffer.allocUnsafe(IV_BYTES + plain.length + TAG_BYTES);
  randomInto(sealed, 0, IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", secret, sealed.subarray(0, IV_BYTES));
  cipher.setAAD(aad);
  let at = IV_BYTES + cipher.update(plain).copy(sealed, IV_BYTES);
  at += cipher.final().copy(sealed, at);
  if (at !== IV_BYTES + plain.length) throw new Error("AES-GCM changed the length of the text");
  cipher.getAuthTag().copy(sealed, at);
  return `${current.id}.${sealed.toString("base64url")}`;
}

export function openSession(cookie: string, keys: SessionKeyRing): Session | undefined {
  const dot = cookie.indexOf(".");
  const key = dot > 0 ? keys.find((k) => k.id === cookie.slice(0, dot)) : undefined;
  if (!key) return undefined; // sealed with a retired key, or not ours
  try {
    const raw = Buffer.from(cookie.slice(dot + 1), "base64url");
    if (raw.length < IV_BYTES + TAG_BYTES + 2) return undefined;
    const { secret, aad } = preparedKey(key);
    const decipher = createDecipheriv("aes-256-gcm", secret, raw.subarray(0, IV_BYTES));
    decipher.setAAD(aad);
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    const text = decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES));
    // final() checks the tag: nothing of the text is read before it has.
    const rest = decipher.final();
    return JSON.parse(
      (rest.length === 0 ? text : Buffer.concat([text, rest])).toString("utf8"),
    ) as Session;
  } catch {
    return undefined; // tampered or truncated
  }
}

export interface SessionPolicy {
  absoluteMs: number;
  idleMs: number;
}

/** Whether a session was made for the User a credential record belongs to (same uid). */
export function sessionBelongsTo(session: Session, recordUid: string | undefined): boolean {
  return recordUid !== undefined && session.uid === recordUid;
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
    now >= session.issuedAt - 60_000 &&
    (session.upstream === undefined || now < session.upstream.notAfter)
  );
}

/** How long the password step waits for the second factor. */
export const PENDING_MFA_MS = 5 * 60_000;

/**
 * Whether a half-signed-in session may still finish with a code: only for a few minutes, and
 * only while the user's credentials are the ones the password was checked against.
 */
export function pendingMfaValid(session: Session, currentEpoch: number, now: number): boolean {
  return (
    session.pendingMfa === true &&
    session.epoch === currentEpoch &&
    now - session.issuedAt <= PENDING_MFA_MS &&
    now >= session.issuedAt - 60_000
  );
}
