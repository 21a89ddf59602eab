import type { FastifyPluginCallback, FastifyReply } from "fastify";
import { idpEndpoints } from "../../saml/metadata.ts";
import { setupTokenValid } from "../../identity/credentials.ts";
import { formRoute, queryRoute, type Form } from "../forms.ts";
import { qrCodeSvg } from "../qr-code.ts";
import { passwordProblem } from "../password.ts";
import { checkCsrf } from "../plugins/csrf.ts";
import { freshSession } from "../plugins/session.ts";
import { newTotpSecret, otpauthUri, verifyTotp } from "../mfa.ts";

const setupLinkGone = (reply: FastifyReply) =>
  reply.code(410).page("error", {
    status: 410,
    message: "This setup link has expired or was already used. Ask an administrator for a new one.",
  });

/** What the setup page shows of an authenticator being enrolled: QR code, secret, URI. */
function enrolment(issuer: string, userName: string, secret: string) {
  const uri = otpauthUri(issuer, userName, secret);
  return { secret, uri, qrSvg: qrCodeSvg(uri) };
}

/** The one-time setup link of `idc invite` / `idc reset`: a new password and authenticator. */
export const setupRoutes: FastifyPluginCallback = (app, _options, done) => {
  const portal = app.portal;

  app.get("/setup", { schema: queryRoute(["user", "token"]) }, async (req, reply) => {
    const { user: userName = "", token = "" } = req.query as Form;
    const record = userName ? await portal.credentials.get(userName) : undefined;
    if (!record || !setupTokenValid(record, token, portal.now().getTime())) {
      return setupLinkGone(reply);
    }
    const session = freshSession("", 0, portal.now().getTime());
    const mfa = portal.instance().spec.signIn.mfa !== "disabled";
    const totpSecret = mfa ? newTotpSecret() : undefined;
    // The pending secret travels in the encrypted session, never in the page's form.
    reply.writeSession({ ...session, ...(totpSecret ? { pendingTotp: totpSecret } : {}) });
    const issuer = `AWS access portal (${idpEndpoints(portal.portalUrl()).portalUrl})`;
    return reply.page("setup", {
      token,
      csrf: session.csrf,
      userName,
      ...(totpSecret ? { totp: enrolment(issuer, userName, totpSecret) } : {}),
    });
  });

  app.post(
    "/setup",
    {
      schema: formRoute(["csrf", "user", "token", "password", "otp"]),
      preHandler: app.throttleCredentialChecks,
    },
    async (req, reply) => {
      const form = req.body as Form;
      const session = req.session;
      checkCsrf(session, form);
      const userName = form.user ?? "";
      const token = form.token ?? "";
      const record = userName ? await portal.credentials.get(userName) : undefined;
      if (!record || !setupTokenValid(record, token, portal.now().getTime())) {
        return setupLinkGone(reply);
      }
      const password = form.password ?? "";
      const owner = portal.stores.directory.validUserFor(userName);
      const ownerSpec =
        owner === undefined ? undefined : portal.stores.users.informer.get(owner)?.spec;
      // The user's own names make a guessable password too.
      const problem = passwordProblem(
        password,
        [
          userName,
          ownerSpec?.email,
          ownerSpec?.email.split("@")[0],
          ownerSpec?.displayName,
          ownerSpec?.name?.givenName,
          ownerSpec?.name?.familyName,
        ].filter((v): v is string => !!v),
      );
      const pendingTotp = session?.pendingTotp;
      const again = (error: string) =>
        reply.code(400).page("setup", {
          token,
          csrf: session?.csrf ?? "",
          userName,
          error,
          ...(pendingTotp ? { totp: enrolment("AWS access portal", userName, pendingTotp) } : {}),
        });
      if (problem) return again(`Password: ${problem}.`);
      let step: number | undefined;
      if (pendingTotp) {
        step = verifyTotp(pendingTotp, form.otp ?? "", portal.now(), undefined);
        if (step === undefined)
          return again("That code is not right; check the time on your device.");
      }
      const passwordHash = await portal.hashPassword(password);
      // Checked again and consumed in one write: two submissions of one link set one
      // password; every earlier session ends.
      const consumed = await portal.checks.completeSetup({
        userName,
        token,
        passwordHash,
        ...(pendingTotp && step !== undefined ? { totp: { secret: pendingTotp, step } } : {}),
        now: portal.now().getTime(),
      });
      if (!consumed) return setupLinkGone(reply);
      req.audit("setup", pendingTotp ? "password_and_authenticator" : "password", userName);
      reply.writeSession(undefined);
      return reply.redirect("/login", 303);
    },
  );
  done();
};
