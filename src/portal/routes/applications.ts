import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from "fastify";
import type { Application, User } from "../../api/v1alpha1/index.ts";
import {
  AuthnRequestError,
  decodeSamlRequest,
  encodeRedirectSamlRequest,
  parseAuthnRequest,
  type AuthnRequest,
} from "../../saml/authn-request.ts";
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

/** The application named in the URL, if the signed-in user is assigned to it. */
function authorizedApplication(portal: PortalContext, req: FastifyRequest) {
  const current = req.signedIn;
  if (!current) return undefined;
  const { name } = req.params as { name: string };
  const application = portal.applicationsOf(current.user).find((a) => a.metadata.name === name);
  if (!application) throw httpError(403, "You are not assigned that application.");
  return { ...current, application };
}

/** An auto-posting page with a signed Response for the application's ACS URL. */
function postToApplication(
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
  if (application.spec.signing.assertion) signInDocument(doc, portal.signing, "Assertion");
  // Signed last, so the Response's signature also covers the Assertion's.
  if (application.spec.signing.response) signInDocument(doc, portal.signing, "Response");
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
function postStatus(
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
  const { doc } = buildStatusResponseDocument({
    issuer: idpEndpoints(portal.portalUrl()).entityId,
    destination: application.spec.acsUrl,
    inResponseTo: target.inResponseTo,
    status: target.status,
    now: portal.now(),
  });
  signInDocument(doc, portal.signing, "Response");
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
  const application = portal.stores.applications.informer
    .list()
    .find((a) => a.spec.entityId === request.issuer && !a.metadata.deletionTimestamp);
  if (!application)
    throw httpError(400, `The service provider ${request.issuer} is not an application here.`);
  // The Response goes only to the ACS URL the Application registers, whatever the request says.
  if (request.acsUrl && request.acsUrl !== application.spec.acsUrl)
    throw httpError(
      400,
      `The service provider asked for the response at ${request.acsUrl}, which is not the ACS URL registered for ${application.spec.displayName}.`,
    );
  return { request, application };
}

/**
 * SAML applications: the IdP metadata, IdP-initiated sign-in from the portal
 * (/applications/:name) and SP-initiated sign-in (/saml/sso, Redirect and POST bindings).
 */
export const applicationRoutes: FastifyPluginCallback = (app, _options, done) => {
  const portal = app.portal;

  app.get("/saml/metadata", async (_req, reply) =>
    reply
      .type("application/samlmetadata+xml")
      .send(idpMetadataXml(idpEndpoints(portal.portalUrl()), portal.signing.certificatePem)),
  );

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
      const relay = query.RelayState ? { relayState: query.RelayState } : {};
      // ForceAuthn: only a sign-in made for this very request will do.
      const fresh = current && (!request.forceAuthn || current.session.freshFor === request.id);
      if (!current || !fresh) {
        // IsPassive: the SP asked the portal not to show the user anything.
        if (request.isPassive)
          return postStatus(portal, reply, {
            application,
            inResponseTo: request.id,
            status: "NoPassive",
            ...relay,
          });
        reply.writeSession({
          ...anonymousSession(req.session, portal.now().getTime()),
          returnTo: req.url,
          ...(request.forceAuthn ? { forceFor: request.id } : {}),
        });
        return reply.redirect("/login", 303);
      }
      if (
        !portal
          .applicationsOf(current.user)
          .some((a) => a.metadata.name === application.metadata.name)
      )
        throw httpError(403, `You are not assigned ${application.spec.displayName}.`);
      const { authnContextClassRef } = authnStatementOf(
        current.session,
        request.requestedAuthnContext,
      );
      if (!authnContextClassRef)
        return postStatus(portal, reply, {
          application,
          inResponseTo: request.id,
          status: "NoAuthnContext",
          ...relay,
        });
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
        ...relay,
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
