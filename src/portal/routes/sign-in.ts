import type { FastifyPluginCallback } from "fastify";
import { isValidUser } from "../../identity/directory.ts";
import { isLocked, recordFailure, recordSuccess } from "../../identity/credentials.ts";
import { formRoute, type Form } from "../forms.ts";
import { loginPage, otpPage } from "../html.ts";
import { verifyPassword } from "../password.ts";
import { checkCsrf } from "../plugins/csrf.ts";
import { freshSession } from "../plugins/session.ts";
import { verifyTotp } from "../mfa.ts";

const BAD_LOGIN = "The user name or password is incorrect.";
const LOCKED = "Too many failed sign-ins. Try again later.";

/** Where to go after signing in: only a pending SP-initiated sign-in, never another site. */
export function safeReturnTo(value: string | undefined): string | undefined {
  return value?.startsWith("/saml/sso?") ? value : undefined;
}

/** Sign-in with password, then the authenticator's code when the user has one; sign-out. */
export const signInRoutes: FastifyPluginCallback = (app, _options, done) => {
  const portal = app.portal;
  const s = portal.stores;

  app.get("/login", async (_req, reply) =>
    reply.type("text/html").send(loginPage(undefined, reply.anonymousSession().csrf)),
  );

  app.post(
    "/login",
    { schema: formRoute(["csrf", "username", "password"]) },
    async (req, reply) => {
      const form = req.body as Form;
      const session = req.session;
      checkCsrf(session, form);
      const userName = (form.username ?? "").trim();
      const password = form.password ?? "";
      const fail = (message = BAD_LOGIN) =>
        reply.code(401).type("text/html").send(loginPage(message, session?.csrf));
      const userObject = s.directory.validUserFor(userName);
      const user = userObject === undefined ? undefined : s.users.informer.get(userObject);
      const record = user ? await portal.credentials.get(userName) : undefined;
      const t = portal.now().getTime();
      if (record && isLocked(record, t)) {
        req.audit("password", "locked", userName);
        return fail(LOCKED);
      }
      // Unknown, duplicate and inactive users get the same answer as a wrong password.
      const ok =
        !!user &&
        user.spec.active &&
        isValidUser(user, s.directory) &&
        !!record?.passwordHash &&
        (await verifyPassword(password, record.passwordHash));
      if (!ok) {
        req.audit("password", "rejected", userName);
        if (user && record)
          await portal.credentials.update(userName, (r) =>
            recordFailure(r, t, portal.instance().spec.signIn.lockoutThreshold),
          );
        return fail();
      }
      const mfa = portal.instance().spec.signIn.mfa;
      if (mfa === "required" && !record.totpSecret) {
        req.audit("password", "no_authenticator", userName);
        return fail("Your account needs an authenticator. Ask an administrator for a setup link.");
      }
      const pendingMfa = mfa !== "disabled" && !!record.totpSecret;
      req.audit("password", pendingMfa ? "accepted" : "signed_in", userName);
      if (!pendingMfa) await portal.credentials.update(userName, recordSuccess);
      const returnTo = safeReturnTo(session?.returnTo);
      reply.writeSession({
        ...freshSession(userName, record.sessionEpoch, t),
        ...(pendingMfa ? { pendingMfa: true, ...(returnTo ? { returnTo } : {}) } : {}),
      });
      return reply.redirect(pendingMfa ? "/login/otp" : (returnTo ?? "/"), 303);
    },
  );

  app.get("/login/otp", async (req, reply) => {
    const session = req.session;
    if (!session?.pendingMfa) return reply.redirect("/login", 303);
    return reply.type("text/html").send(otpPage(session.csrf));
  });

  app.post("/login/otp", { schema: formRoute(["csrf", "otp"]) }, async (req, reply) => {
    const form = req.body as Form;
    const session = req.session;
    checkCsrf(session, form);
    if (!session?.pendingMfa) return reply.redirect("/login", 303);
    const t = portal.now().getTime();
    const record = await portal.credentials.get(session.userName);
    if (!record?.totpSecret || isLocked(record, t)) {
      req.audit("otp", "locked", session.userName);
      return reply.code(401).type("text/html").send(otpPage(session.csrf, LOCKED));
    }
    const step = verifyTotp(record.totpSecret, form.otp ?? "", portal.now(), record.totpLastStep);
    if (step === undefined) {
      req.audit("otp", "rejected", session.userName);
      await portal.credentials.update(session.userName, (r) =>
        recordFailure(r, t, portal.instance().spec.signIn.lockoutThreshold),
      );
      return reply
        .code(401)
        .type("text/html")
        .send(otpPage(session.csrf, "That code is not right."));
    }
    await portal.credentials.update(session.userName, (r) => ({
      ...recordSuccess(r),
      totpLastStep: step,
    }));
    req.audit("otp", "signed_in", session.userName);
    reply.writeSession(freshSession(session.userName, record.sessionEpoch, t));
    return reply.redirect(safeReturnTo(session.returnTo) ?? "/", 303);
  });

  app.post("/logout", { schema: formRoute(["csrf"]) }, async (req, reply) => {
    checkCsrf(req.session, req.body as Form);
    reply.writeSession(undefined);
    return reply.redirect("/login", 303);
  });
  done();
};
