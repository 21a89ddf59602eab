import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import { formRoute, type Form } from "../forms.ts";
import { httpError } from "../errors.ts";
import { anonymousSession } from "../plugins/session.ts";
import { completeUpstreamSignIn } from "../federation/index.ts";
import {
  UPSTREAM_REQUEST_TTL_MS,
  UpstreamSamlError,
  serviceProviderMetadata,
  upstreamAuthnRequest,
  upstreamSamlConfig,
  useAssertionOnce,
  validateUpstreamResponse,
} from "../upstream-saml.ts";
import { safeReturnTo } from "./sign-in.ts";

/** A SAMLResponse is a few KiB; Entra ID's with many groups can reach tens. */
const ACS_BODY_LIMIT = 512 * 1024;

/**
 * The portal as a SAML service provider of the upstream IdP (identitySource.type saml):
 * its SP metadata, the start of a sign-in (an AuthnRequest, HTTP-Redirect binding) and the
 * Assertion Consumer Service (HTTP-POST binding).
 */
export const upstreamSamlRoutes: FastifyPluginCallback = (app, _options, done) => {
  const portal = app.portal;
  const configOrNotFound = () => {
    const config = upstreamSamlConfig(portal.instance());
    if (!config) throw httpError(404, "This portal does not sign in through a SAML provider.");
    return config;
  };

  app.get("/upstream/saml/metadata", async (_req, reply) =>
    reply.type("application/samlmetadata+xml").send(serviceProviderMetadata(configOrNotFound())),
  );

  // Sends the browser upstream. A pending application sign-in that asked for ForceAuthn
  // (session.forceFor) asks the upstream for a fresh authentication too.
  app.get("/upstream/saml/start", async (req, reply) => {
    const config = configOrNotFound();
    const now = portal.now().getTime();
    const session = anonymousSession(req.session, now);
    const forceAuthn = !!(safeReturnTo(session.returnTo) && session.forceFor);
    let started;
    try {
      started = await upstreamAuthnRequest(config, { forceAuthn, now });
    } catch (err) {
      if (err instanceof UpstreamSamlError) throw httpError(503, err.message);
      throw err;
    }
    reply.writeSession({ ...session, upstreamRequest: started.pending });
    req.audit("upstream_saml", "redirected", "");
    return reply.redirect(started.url, 303);
  });

  app.post(
    "/upstream/saml/acs",
    { schema: formRoute(["SAMLResponse", "RelayState", "resumed"]), bodyLimit: ACS_BODY_LIMIT },
    async (req, reply) => acs(req, reply),
  );

  async function acs(req: FastifyRequest, reply: FastifyReply) {
    const config = configOrNotFound();
    const form = req.body as Form;
    const samlResponse = form.SAMLResponse ?? "";
    if (!samlResponse) throw httpError(400, "The sign-in response is missing.");
    const session = req.session;
    const pending = session?.upstreamRequest;
    if (!pending && form.resumed !== "1") {
      // The IdP's cross-site POST carries no SameSite=Lax cookie: the page posts the same
      // response again from the portal's own origin, which does carry it.
      reply.formActionTarget = config.acsUrl;
      return reply.page("auto-post", {
        action: "/upstream/saml/acs",
        fields: { SAMLResponse: samlResponse, resumed: "1" },
        target: "the portal",
      });
    }
    const now = portal.now().getTime();
    const fresh = pending && now - pending.at <= UPSTREAM_REQUEST_TTL_MS ? pending : undefined;
    let identity;
    try {
      identity = await validateUpstreamResponse(config, samlResponse, fresh);
      if (!(await useAssertionOnce(portal.usedAssertions, identity, now)))
        throw new UpstreamSamlError(
          "This sign-in response was already used. Start again from the portal.",
        );
    } catch (err) {
      if (!(err instanceof UpstreamSamlError)) throw err;
      req.audit("upstream_saml", "refused", "");
      portal.log.info({ reason: err.message }, "upstream SAML response refused");
      // The request is spent either way: a second try needs a new one.
      if (session) {
        const rest = { ...session };
        delete rest.upstreamRequest;
        reply.writeSession(rest);
      }
      throw httpError(401, err.message);
    }
    // The pre-sign-in session without its spent request: its returnTo and ForceAuthn carry on.
    const before = { ...anonymousSession(session, now) };
    delete before.upstreamRequest;
    return completeUpstreamSignIn(req, reply, {
      identity: {
        subject: identity.userName,
        userName: identity.userName,
        email: identity.email,
        groups: identity.groups,
        mfa: identity.mfa,
        // Without a SessionNotOnOrAfter only the portal's own limit ends the session.
        expiresAt: identity.sessionNotOnOrAfter ?? Number.POSITIVE_INFINITY,
      },
      before,
      protocol: "saml",
    });
  }
  done();
};
