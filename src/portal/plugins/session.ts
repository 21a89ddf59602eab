import type { FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { User } from "../../api/v1alpha1/index.ts";
import type { SessionRecord } from "../../identity/credentials.ts";
import { isValidUser } from "../../identity/directory.ts";
import { isoDurationSeconds } from "../../plan/naming.ts";
import { chooseAuthnContext } from "../../saml/authn-context.ts";
import type { RequestedAuthnContext } from "../../saml/authn-request.ts";
import { randomBase64url } from "../../util/random-pool.ts";
import type { PortalContext } from "../context.ts";
import {
  openSession,
  sealSession,
  sessionBelongsTo,
  sessionValid,
  type AuthnMethod,
  type Session,
} from "../session-cookie.ts";

/** Who is signed in: the User (re-read from the cache) and the session, its lastSeen refreshed. */
export interface SignedIn {
  user: User;
  session: Session;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The session the request's cookie carries, if it opens with the session key. */
    session: Session | undefined;
    /** Set by `resolveSignedIn`: the user behind the request, if still allowed to sign in. */
    signedIn: SignedIn | undefined;
  }
  interface FastifyReply {
    /** Sets the session cookie to this session, or clears it. */
    writeSession(session: Session | undefined): void;
    /** The request's anonymous session (carrying the login form's CSRF token), made if needed. */
    anonymousSession(): Session;
  }
}

export function newCsrfToken(): string {
  return randomBase64url(18);
}

/** A new session starting now (signed in when userName is set, anonymous when it is ""). */
export function freshSession(userName: string, epoch: number, now: number, uid?: string): Session {
  return {
    userName,
    ...(uid ? { uid } : {}),
    epoch,
    issuedAt: now,
    lastSeen: now,
    csrf: newCsrfToken(),
  };
}

/**
 * A signed-in session, listed in the user's credential record under `id`; it remembers when
 * and how the user signed in (the SAML AuthnStatement reports both), and, for a sign-in a
 * ForceAuthn request asked for, that request's ID (`freshFor`, answered once).
 */
export function signedInSession(
  user: {
    userName: string;
    /** The uid of the User signed in: the session is theirs, not the userName's. */
    uid?: string;
    epoch: number;
    id: string;
    method: AuthnMethod;
    freshFor?: string;
  },
  now: number,
): Session {
  return {
    ...freshSession(user.userName, user.epoch, now, user.uid),
    id: user.id,
    authnAt: now,
    authnMethod: user.method,
    ...(user.freshFor ? { freshFor: user.freshFor } : {}),
  };
}

/**
 * When and how the session's user signed in, as an AuthnStatement reports it; the class
 * honours the SP's RequestedAuthnContext (undefined: the sign-in cannot satisfy it).
 */
export function authnStatementOf(session: Session, requested?: RequestedAuthnContext) {
  return {
    authnInstant: new Date(session.authnAt ?? session.issuedAt),
    authnContextClassRef: chooseAuthnContext(session.authnMethod ?? "password", requested),
  };
}

/** A session for someone not signed in yet: it carries the CSRF token of the login form. */
export function anonymousSession(existing: Session | undefined, now: number): Session {
  if (existing && existing.userName === "") return existing;
  return freshSession("", 0, now);
}

function cookieName(portal: PortalContext): string {
  return portal.secure() ? "__Host-idc_session" : "idc_session";
}

function readSession(portal: PortalContext, req: FastifyRequest): Session | undefined {
  // The cookie's name depends on the instance's URL; without the instance no route can answer.
  if (!portal.findInstance()) return undefined;
  const sealed = req.cookies[cookieName(portal)];
  return sealed ? openSession(sealed, portal.sessionKeys()) : undefined;
}

export function signInPolicy(portal: PortalContext) {
  const signIn = portal.instance().spec.signIn;
  return {
    absoluteMs: isoDurationSeconds(signIn.duration) * 1000,
    idleMs: isoDurationSeconds(signIn.idleTimeout) * 1000,
  };
}

/**
 * Whether a record honours the session: the cookie alone is not enough, the server must still
 * list the session (not signed out, not ended by a new password, a reset or deactivation), and
 * a session of an earlier User of this userName (deleted and created again, or renamed) is not
 * this User's, whatever its epoch.
 */
export function recordHonours(
  portal: PortalContext,
  record: SessionRecord | undefined,
  session: Session,
  now: number,
): boolean {
  return (
    record !== undefined &&
    sessionBelongsTo(session, record.userUid) &&
    sessionValid(session, signInPolicy(portal), record.sessionEpoch, now) &&
    portal.checks.sessionHonoured(record, session, now)
  );
}

/**
 * Whether the server honours the session, from the watched cache when it says yes. A "no" from
 * the cache (not listed, no record, the epoch moved) may be a sign-in on another replica whose
 * write has not come through the watch yet: it is confirmed by reading the record before the
 * request is refused. Before the cache has synced every check reads the record.
 */
async function sessionHonouredNow(
  portal: PortalContext,
  userName: string,
  session: Session,
  now: number,
): Promise<boolean> {
  const cached = portal.sessionRecords?.lookup(userName);
  if (cached && recordHonours(portal, cached.record, session, now)) {
    portal.metrics.sessionChecks.inc({ source: "cache" });
    return true;
  }
  portal.metrics.sessionChecks.inc({ source: "read" });
  return recordHonours(portal, await portal.credentials.get(userName), session, now);
}

/** The user behind the session, if the session is valid and the user may still sign in. */
async function signedInUser(
  portal: PortalContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<SignedIn | undefined> {
  const session = req.session;
  if (!session || session.userName === "" || session.pendingMfa || !session.id) return undefined;
  const s = portal.stores;
  const userObject = s.directory.validUserFor(session.userName);
  const user = userObject === undefined ? undefined : s.users.informer.get(userObject);
  // From the User cache on every request, never from the credential cache: a User made
  // inactive or deleted is refused at once, on every replica.
  if (!user || !user.spec.active || !isValidUser(user, s.directory)) return undefined;
  const t = portal.now().getTime();
  if (!(await sessionHonouredNow(portal, user.spec.userName, session, t))) return undefined;
  const refreshed = { ...session, lastSeen: t };
  reply.writeSession(refreshed);
  return { user, session: refreshed };
}

/** A preHandler for routes that act for a signed-in user: sets `request.signedIn`. */
export async function resolveSignedIn(req: FastifyRequest, reply: FastifyReply): Promise<void> {
  req.signedIn = await signedInUser(req.server.portal, req, reply);
}

/**
 * The session cookie (parsed and set through @fastify/cookie): AES-256-GCM sealed (see session-cookie.ts), HttpOnly, SameSite=Lax, and
 * `__Host-` + Secure when the portal is served over https.
 */
export const sessions = fp(
  (app, _options, done) => {
    const portal = app.portal;
    app.decorateRequest("session", undefined);
    app.decorateRequest("signedIn", undefined);
    app.decorateReply("writeSession", function (session: Session | undefined) {
      // Path=/ and no Domain: with Secure that is what a __Host- cookie needs.
      const options = {
        path: "/",
        httpOnly: true,
        sameSite: "lax",
        secure: portal.secure(),
      } as const;
      const name = cookieName(portal);
      // setCookie keeps one cookie per name: the last word in this response wins.
      if (session) this.setCookie(name, sealSession(session, portal.sessionKeys()), options);
      else this.clearCookie(name, options);
    });
    app.decorateReply("anonymousSession", function () {
      const existing = this.request.session;
      const session = anonymousSession(existing, portal.now().getTime());
      if (session !== existing) this.writeSession(session);
      return session;
    });
    app.addHook("onRequest", (req, _reply, next) => {
      req.session = readSession(portal, req);
      next();
    });
    done();
  },
  { name: "portal-sessions", fastify: "5.x", dependencies: ["portal-context", "@fastify/cookie"] },
);
