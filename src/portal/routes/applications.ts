import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import type { Application, User } from "../../api/v1alpha1/index.ts";
import {
  AuthnRequestError,
  decodeSamlRequest,
  encodeRedirectSamlRequest,
  parseAuthnRequest,
  type AuthnRequest,
} from "../../saml/authn-request.ts";
import { awsSignInClaims } from "../../saml/aws-sign-in.ts";
import { idpEndpoints, idpMetadataXml } from "../../saml/metadata.ts";
import {
  buildResponseDocument,
  buildStatusResponseDocument,
  newId,
  type FailureStatus,
} from "../../saml/response.ts";
import { signInDocument } from "../../saml/sign.ts";
import { serialize } from "../../saml/xml-builder.ts";
import { ApplicationSignInError, applicationResponseInput } from "../applications.ts";
import type { PortalContext } from "../context.ts";
import { httpError, MESSAGES } from "../errors.ts";
import { formRoute, queryRoute, type Form } from "../forms.ts";
import { checkCsrf } from "../plugins/csrf.ts";
import { anonymousSession, authnStatementOf, resolveSignedIn } from "../plugins/session.ts";
import type { Session } from "../session-cookie.ts";

function assertAssigned(portal: PortalContext, user: User, application: Application): void {
  if (!portal.applicationsOf(user).some((a) => a.metadata.name === application.metadata.name))
    throw httpError(403, `You are not assigned ${application.spec.displayName}.`);
}

/** The application named in the URL, if the signed-in user is assigned to it. */
function authorizedApplication(portal: PortalContext, req: FastifyRequest) {
  const current = req.signedIn;
  if (!current) return undefined;
  const { name } = req.params as { name: string };
  const application = portal.applicationsOf(current.user).find((a) => a.metadata.name === name);
  if (!application) throw httpError(403, "You are not assigned that application.");
  return { ...current, application };
}

/**
 * Refuses an Application set up like AWS sign-in (stored before the CRD refused that, or under
 * a CRD without the rules) before anything is signed for it.
 */
function refuseAwsImpersonation(portal: PortalContext, application: Application): void {
  const claims = awsSignInClaims(application.spec);
  if (claims.length === 0) return;
  portal.log.warn(
    { application: application.metadata.name, claims: claims.map((c) => c.field) },
    "refused to sign for an application that impersonates AWS sign-in",
  );
  throw httpError(
    403,
    "This application is set up like AWS sign-in, which opens only the AWS accounts assigned to you. The portal signs nothing for it; an administrator must correct it.",
  );
}

/** The application's own signing key; the instance key never signs application responses. */
async function applicationKey(portal: PortalContext, application: Application) {
  const key = await portal.applicationKeys.signingFor(application);
  if (!key)
    throw httpError(503, "This application's signing key is not ready yet. Try again in a moment.");
  return key;
}

/** An auto-posting page with a Response for the ACS URL, signed with the application's key. */
async function postToApplication(
  portal: PortalContext,
  reply: FastifyReply,
  target: {
    user: User;
    session: Session;
    application: Application;
    inResponseTo?: string;
    relayState?: string;
    authnContextClassRef?: string;
  },
) {
  const { user, application } = target;
  refuseAwsImpersonation(portal, application);
  const key = await applicationKey(portal, application);
  let input;
  try {
    input = applicationResponseInput(application, user, {
      issuer: idpEndpoints(portal.portalUrl()).entityId,
      now: portal.now(),
      transientId: newId(),
    });
  } catch (err) {
    if (err instanceof ApplicationSignInError) throw Object.assign(err, { statusCode: 409 });
    throw err;
  }
  const { doc } = buildResponseDocument({
    ...input,
    ...authnStatementOf(target.session),
    ...(target.authnContextClassRef ? { authnContextClassRef: target.authnContextClassRef } : {}),
    ...(target.inResponseTo ? { inResponseTo: target.inResponseTo } : {}),
  });
  if (application.spec.signing.assertion) signInDocument(doc, key, "Assertion");
  // Signed last, so the Response's signature also covers the Assertion's.
  if (application.spec.signing.response) signInDocument(doc, key, "Response");
  const xml = serialize(doc);
  portal.metrics.samlResponses.inc({ target: "application" });
  reply.formActionTarget = application.spec.acsUrl;
  const fields: Record<string, string> = { SAMLResponse: Buffer.from(xml).toString("base64") };
  const relayState = target.relayState ?? application.spec.relayState;
  if (relayState) fields.RelayState = relayState;
  portal.log.info(
    {
      user: user.spec.userName,
      application: application.metadata.name,
      spInitiated: !!target.inResponseTo,
    },
    "application sign-in",
  );
  return reply.page("auto-post", {
    action: application.spec.acsUrl,
    fields,
    target: application.spec.displayName,
  });
}

/**
 * A signed Response with no assertion, saying why the user was not signed in (NoPassive,
 * NoAuthnContext), posted to the application's ACS URL like a sign-in.
 */
async function postStatus(
  portal: PortalContext,
  reply: FastifyReply,
  target: {
    application: Application;
    inResponseTo: string;
    status: FailureStatus;
    relayState?: string;
  },
) {
  const { application } = target;
  // Signed like the application's sign-ins: with its own key, never the instance's.
  refuseAwsImpersonation(portal, application);
  const key = await applicationKey(portal, application);
  const { doc } = buildStatusResponseDocument({
    issuer: idpEndpoints(portal.portalUrl()).entityId,
    destination: application.spec.acsUrl,
    inResponseTo: target.inResponseTo,
    status: target.status,
    now: portal.now(),
  });
  signInDocument(doc, key, "Response");
  portal.metrics.samlResponses.inc({ target: "application" });
  reply.formActionTarget = application.spec.acsUrl;
  const fields: Record<string, string> = {
    SAMLResponse: Buffer.from(serialize(doc)).toString("base64"),
  };
  if (target.relayState) fields.RelayState = target.relayState;
  portal.log.info(
    { application: application.metadata.name, status: target.status },
    "application sign-in refused",
  );
  return reply.page("auto-post", {
    action: application.spec.acsUrl,
    fields,
    target: application.spec.displayName,
  });
}

const badSamlRequest = (err: AuthnRequestError) =>
  httpError(400, `Bad SAML request: ${err.message}.`);

/** The AuthnRequest and the Application it comes from; anything else is a 400 page. */
function applicationRequest(portal: PortalContext, samlRequest: string) {
  let request: AuthnRequest;
  try {
    request = parseAuthnRequest(decodeSamlRequest(samlRequest, "redirect"));
  } catch (err) {
    if (err instanceof AuthnRequestError) throw badSamlRequest(err);
    throw err;
  }
  // Error pages repeat nothing of the request (issuer, ACS URL): it is the sender's text.
  const claimants = portal.stores.applications.informer
    .list()
    .filter((a) => a.spec.entityId === request.issuer && !a.metadata.deletionTimestamp);
  const [application, ...others] = claimants;
  if (!application)
    throw httpError(400, "This sign-in request does not come from an application known here.");
  if (others.length > 0)
    throw httpError(
      400,
      "More than one application here claims the issuer of this sign-in request, so the portal cannot tell which one sent it. An administrator must give each application its own entity id.",
    );
  // The Response goes only to the ACS URL the Application registers, whatever the request says.
  if (request.acsUrl && request.acsUrl !== application.spec.acsUrl)
    throw httpError(
      400,
      `This sign-in request asks for the response at an address that is not registered for ${application.spec.displayName}.`,
    );
  return { request, application };
}

/** Who a status-only Response (NoPassive, NoAuthnContext) to this request goes to. */
const statusAnswer = (application: Application, request: AuthnRequest, relayState?: string) => ({
  application,
  inResponseTo: request.id,
  ...(relayState ? { relayState } : {}),
});

/**
 * The AuthnContextClassRef this session can assert for the request's RequestedAuthnContext, or
 * undefined when it meets none of them (the application then hears NoAuthnContext).
 */
const authnContextFor = (session: Parameters<typeof authnStatementOf>[0], request: AuthnRequest) =>
  authnStatementOf(session, request.requestedAuthnContext).authnContextClassRef;

/**
 * SAML applications: the IdP metadata, IdP-initiated sign-in from the portal
 * (/applications/:name) and SP-initiated sign-in (/saml/sso, Redirect and POST bindings).
 */
export const applicationRoutes: FastifyPluginCallback = (app, _options, done) => {
  const portal = app.portal;

  // The instance's metadata: its certificate is the one every AWS account's SAML provider holds.
  app.get("/saml/metadata", async (_req, reply) =>
    reply
      .type("application/samlmetadata+xml")
      .send(idpMetadataXml(idpEndpoints(portal.portalUrl()), portal.signing.certificatePem)),
  );

  // One application's metadata (status.metadataUrl): the same IdP, the application's own
  // certificate. Public, like the instance's: service providers fetch it unauthenticated.
  app.get("/applications/:name/saml/metadata", async (req, reply) => {
    const { name } = req.params as { name: string };
    const application = portal.stores.applications.informer.get(name);
    if (
      !application ||
      application.metadata.deletionTimestamp ||
      awsSignInClaims(application.spec).length > 0
    )
      throw httpError(404, "There is no such application.");
    const key = await applicationKey(portal, application);
    return reply
      .type("application/samlmetadata+xml")
      .send(idpMetadataXml(idpEndpoints(portal.portalUrl()), key.certificatePem));
  });

  // The application's sign-in URL (status.signInUrl): a page with one button, so that following
  // a link never signs anyone in by itself.
  app.get("/applications/:name", { preHandler: resolveSignedIn }, async (req, reply) => {
    const found = authorizedApplication(portal, req);
    if (!found) return reply.redirect("/login", 303);
    const { user, session, application } = found;
    return reply.page("application", {
      user: { name: user.spec.displayName ?? user.spec.userName, csrf: session.csrf },
      application,
    });
  });

  // IdP-initiated sign-in: a signed Response posted to the application's ACS URL.
  app.post(
    "/applications/:name",
    { schema: formRoute(["csrf"]), preHandler: resolveSignedIn },
    async (req, reply) => {
      const found = authorizedApplication(portal, req);
      if (!found) throw httpError(401, MESSAGES.signInFirst);
      const { user, session, application } = found;
      checkCsrf(session, req.body as Form);
      return postToApplication(portal, reply, { user, session, application });
    },
  );

  // SP-initiated sign-in, HTTP-Redirect binding. Someone not signed in comes back here after
  // signing in (the request's URL waits in the encrypted session cookie).
  app.get(
    "/saml/sso",
    { schema: queryRoute(["SAMLRequest", "RelayState"]) },
    async (req, reply) => {
      const query = req.query as Form;
      const { request, application } = applicationRequest(portal, query.SAMLRequest ?? "");
      // Resolved after the request is checked: a bad request gets its 400 whoever sends it.
      await resolveSignedIn(req, reply);
      const current = req.signedIn;
      const answer = statusAnswer(application, request, query.RelayState);
      // ForceAuthn: only a sign-in made for this very request will do.
      const fresh = current && (!request.forceAuthn || current.session.freshFor === request.id);
      // IsPassive: the SP asked the portal not to show the user anything. Signing in a signed-in
      // user without showing anything would post a Response on an unsigned request anyone can
      // send (with their own RelayState), so a passive request always hears NoPassive.
      if (request.isPassive) return postStatus(portal, reply, { ...answer, status: "NoPassive" });
      if (!current || !fresh) {
        reply.writeSession({
          ...anonymousSession(req.session, portal.now().getTime()),
          returnTo: req.url,
          ...(request.forceAuthn ? { forceFor: request.id } : {}),
        });
        return reply.redirect("/login", 303);
      }
      assertAssigned(portal, current.user, application);
      refuseAwsImpersonation(portal, application);
      if (!authnContextFor(current.session, request))
        return postStatus(portal, reply, { ...answer, status: "NoAuthnContext" });
      // The request is not signed, so anyone could have sent the user here (with their own
      // RelayState): nothing is posted until the user says so on a page naming the application.
      return reply.page("confirm-sign-in", {
        user: {
          name: current.user.spec.displayName ?? current.user.spec.userName,
          csrf: current.session.csrf,
        },
        application,
        fields: {
          SAMLRequest: query.SAMLRequest ?? "",
          ...(query.RelayState ? { RelayState: query.RelayState } : {}),
        },
      });
    },
  );

  // The user's click on that page: the request is checked again (assignment, ForceAuthn,
  // RequestedAuthnContext), then answered.
  app.post(
    "/saml/sso/continue",
    { schema: formRoute(["csrf", "SAMLRequest", "RelayState"]), preHandler: resolveSignedIn },
    async (req, reply) => {
      const current = req.signedIn;
      if (!current) throw httpError(401, MESSAGES.signInFirst);
      const form = req.body as Form;
      checkCsrf(current.session, form);
      const { request, application } = applicationRequest(portal, form.SAMLRequest ?? "");
      assertAssigned(portal, current.user, application);
      const answer = statusAnswer(application, request, form.RelayState);
      // ForceAuthn: the sign-in made for this request is still the one that answers it.
      if (request.forceAuthn && current.session.freshFor !== request.id)
        throw httpError(
          401,
          "This application asks you to sign in again. Start from the application.",
        );
      // Checked again: the session may have changed since the page was shown.
      const authnContextClassRef = authnContextFor(current.session, request);
      if (!authnContextClassRef)
        return postStatus(portal, reply, { ...answer, status: "NoAuthnContext" });
      if (current.session.freshFor) {
        // Used: the same request again asks for another sign-in.
        const rest = { ...current.session };
        delete rest.freshFor;
        reply.writeSession(rest);
      }
      return postToApplication(portal, reply, {
        user: current.user,
        session: current.session,
        application,
        inResponseTo: request.id,
        authnContextClassRef,
        ...(answer.relayState ? { relayState: answer.relayState } : {}),
      });
    },
  );

  // HTTP-POST binding: a cross-site POST carries no SameSite=Lax session cookie, so the request
  // is turned into the Redirect binding's GET, which does.
  app.post(
    "/saml/sso",
    { schema: formRoute(["SAMLRequest", "RelayState"]) },
    async (req, reply) => {
      const form = req.body as Form;
      let xml: string;
      try {
        xml = decodeSamlRequest(form.SAMLRequest ?? "", "post");
        parseAuthnRequest(xml);
      } catch (err) {
        if (err instanceof AuthnRequestError) throw badSamlRequest(err);
        throw err;
      }
      const query = new URLSearchParams({ SAMLRequest: encodeRedirectSamlRequest(xml) });
      if (form.RelayState) query.set("RelayState", form.RelayState);
      return reply.redirect(`/saml/sso?${query.toString()}`, 303);
    },
  );
  done();
};
