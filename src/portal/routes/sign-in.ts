import type { FastifyPluginCallback } from "fastify";
import { isValidUser } from "../../identity/directory.ts";
import { formRoute, type Form } from "../forms.ts";
import { upstreamSignIn } from "../federation/index.ts";
import { needsRehash } from "../password.ts";
import { checkCsrf } from "../plugins/csrf.ts";
import { freshSession, signInPolicy, signedInSession } from "../plugins/session.ts";
import { PENDING_MFA_MS } from "../session-cookie.ts";

const BAD_LOGIN = "The user name or password is incorrect.";
const LOCKED = "Too many failed sign-ins. Try again later.";

/**
 * Where to go after signing in: only a pending SP-initiated sign-in or CLI approval (device
 * code, authorization request), never another site.
 */
export function safeReturnTo(value: string | undefined): string | undefined {
  return value !== undefined && /^\/(saml\/sso\?|authorize\?|device(\?|$))/.test(value)
    ? value
    : undefined;
}

/**
 * Sign-in with password, then the authenticator's code when the user has one; sign-out. The
 * credential checks (sign-in.ts) are atomic per attempt and cost the same for every name; the
 * routes that run them are throttled per address and overall.
 */
export const signInRoutes: FastifyPluginCallback = (app, _options, done) => {
  const portal = app.portal;
  const s = portal.stores;

  app.get("/login", async (_req, reply) => {
    const csrf = reply.anonymousSession().csrf;
    const upstream = upstreamSignIn(portal.instance());
    if (upstream) return reply.page("upstream-login", upstream);
    return reply.page("login", { csrf });
  });

  app.post(
    "/login",
    {
      schema: formRoute(["csrf", "username", "password"]),
      preHandler: app.throttleCredentialChecks,
    },
    async (req, reply) => {
      const form = req.body as Form;
      const session = req.session;
      checkCsrf(session, form);
      // With an upstream identity source, passwords kept here (from before) open nothing.
      const upstream = upstreamSignIn(portal.instance());
      if (upstream) {
        req.audit("password", "upstream_only", (form.username ?? "").trim());
        return reply.code(403).page("upstream-login", {
          ...upstream,
          error: `Password sign-in is off: sign in with ${upstream.displayName}.`,
        });
      }
      const typedName = (form.username ?? "").trim();
      const fail = (error = BAD_LOGIN) =>
        reply.code(401).page("login", { error, csrf: session?.csrf ?? "" });
      const userObject = s.directory.validUserFor(typedName);
      const user = userObject === undefined ? undefined : s.users.informer.get(userObject);
      // userNames match ignoring case; the record and the session use the User's own spelling.
      const userName = user?.spec.userName ?? typedName;
      const t = portal.now().getTime();
      // Unknown, duplicate and inactive users get the same work and answer as a wrong password.
      const outcome = await portal.checks.checkPassword({
        typedName,
        recordName: user?.spec.userName,
        eligible: !!user && user.spec.active && isValidUser(user, s.directory),
        password: form.password ?? "",
        now: t,
        threshold: portal.instance().spec.signIn.lockoutThreshold,
      });
      if (outcome.result !== "accepted") {
        req.audit("password", outcome.result, userName);
        return fail(outcome.result === "locked" ? LOCKED : BAD_LOGIN);
      }
      const record = outcome.record;
      const mfa = portal.instance().spec.signIn.mfa;
      if (mfa === "required" && !record.totpSecret) {
        req.audit("password", "no_authenticator", userName);
        return fail("Your account needs an authenticator. Ask an administrator for a setup link.");
      }
      // Older records (scrypt, or an earlier Argon2 cost) move to the current cost now that the
      // password is known, in the write that ends the password step anyway.
      const stored = record.passwordHash;
      const upgrade =
        stored && needsRehash(stored, portal.passwordHashing())
          ? { from: stored, to: await portal.hashPassword(form.password ?? "") }
          : undefined;
      const returnTo = safeReturnTo(session?.returnTo);
      // A sign-in that a ForceAuthn request asked for answers that request.
      const forceFor = returnTo ? session?.forceFor : undefined;
      if (mfa !== "disabled" && record.totpSecret) {
        await portal.checks.passwordAccepted(userName, upgrade);
        req.audit("password", "accepted", userName);
        // Half signed in, for PENDING_MFA_MS and only under the credentials just checked.
        reply.writeSession({
          ...freshSession(userName, record.sessionEpoch, t, record.userUid),
          pendingMfa: true,
          ...(returnTo ? { returnTo } : {}),
          ...(forceFor ? { forceFor } : {}),
        });
        return reply.redirect("/login/otp", 303);
      }
      const id = await portal.checks.signedIn(
        userName,
        t + signInPolicy(portal).absoluteMs,
        t,
        upgrade,
      );
      req.audit("password", "signed_in", userName);
      reply.writeSession(
        signedInSession(
          {
            userName,
            ...(record.userUid ? { uid: record.userUid } : {}),
            epoch: record.sessionEpoch,
            id,
            method: "password",
            ...(forceFor ? { freshFor: forceFor } : {}),
          },
          t,
        ),
      );
      return reply.redirect(returnTo ?? "/", 303);
    },
  );

  app.get("/login/otp", async (req, reply) => {
    const session = req.session;
    if (!session?.pendingMfa || portal.now().getTime() - session.issuedAt > PENDING_MFA_MS)
      return reply.redirect("/login", 303);
    return reply.page("otp", { csrf: session.csrf });
  });

  app.post(
    "/login/otp",
    { schema: formRoute(["csrf", "otp"]), preHandler: app.throttleCredentialChecks },
    async (req, reply) => {
      const form = req.body as Form;
      const session = req.session;
      checkCsrf(session, form);
      if (!session?.pendingMfa) return reply.redirect("/login", 303);
      const t = portal.now().getTime();
      const outcome = await portal.checks.checkCode({
        session,
        code: form.otp ?? "",
        now: t,
        threshold: portal.instance().spec.signIn.lockoutThreshold,
        // Through an upstream: never beyond the upstream's own statement.
        expiresAt: Math.min(
          t + signInPolicy(portal).absoluteMs,
          session.upstream?.notAfter ?? Number.POSITIVE_INFINITY,
        ),
      });
      req.audit(
        "otp",
        outcome.result === "accepted" ? "signed_in" : outcome.result,
        session.userName,
      );
      if (outcome.result === "expired") {
        // Too slow, or the credentials changed since the password step: start again.
        const fresh = freshSession("", 0, t);
        reply.writeSession(fresh);
        return reply.code(401).page("login", {
          error: "Your sign-in took too long or is no longer valid. Sign in again.",
          csrf: fresh.csrf,
        });
      }
      if (outcome.result !== "accepted")
        return reply.code(401).page("otp", {
          csrf: session.csrf,
          error: outcome.result === "locked" ? LOCKED : "That code is not right.",
        });
      const returnTo = safeReturnTo(session.returnTo);
      reply.writeSession({
        ...signedInSession(
          {
            userName: session.userName,
            ...(session.uid ? { uid: session.uid } : {}),
            epoch: session.epoch,
            id: outcome.sessionId,
            method: session.upstream ? "upstream+totp" : "password+totp",
            ...(returnTo && session.forceFor ? { freshFor: session.forceFor } : {}),
          },
          t,
        ),
        ...(session.upstream ? { upstream: session.upstream } : {}),
      });
      return reply.redirect(returnTo ?? "/", 303);
    },
  );

  app.post("/logout", { schema: formRoute(["csrf"]) }, async (req, reply) => {
    const session = req.session;
    checkCsrf(session, req.body as Form);
    // Ended on the server too: a copy of the cookie is worth nothing from now on.
    if (session?.id && session.userName)
      await portal.checks.signedOut(session.userName, session.id);
    reply.writeSession(undefined);
    // Signed in upstream: end the upstream's session too, where it offers a way.
    return reply.redirect(session?.upstream?.endSessionUrl ?? "/login", 303);
  });
  done();
};
