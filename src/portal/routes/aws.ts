import type { FastifyPluginCallback, FastifyRequest } from "fastify";
import type { User } from "../../api/v1alpha1/index.ts";
import { StsTimeoutError } from "../../adapters/aws/saml-sts.ts";
import { isoDurationSeconds } from "../../plan/naming.ts";
import { AWS_AUDIENCE, awsSignInAttributes } from "../../saml/aws-sign-in.ts";
import { idpEndpoints } from "../../saml/metadata.ts";
import { buildSignedResponseOffLoop } from "../../saml/response.ts";
import type { RoleAccess } from "../access.ts";
import { userValue } from "../applications.ts";
import type { PortalContext } from "../context.ts";
import { httpError, MESSAGES } from "../errors.ts";
import { formRoute, type Form } from "../forms.ts";
import { checkCsrf } from "../plugins/csrf.ts";
import { authnStatementOf, resolveSignedIn } from "../plugins/session.ts";
import type { Session } from "../session-cookie.ts";

/**
 * A signed SAML Response for the AWS sign-in endpoint, base64 as it is posted. The RSA
 * signature is made on libuv's thread pool, so the event loop serves others meanwhile.
 */
async function signedAwsResponse(
  portal: PortalContext,
  user: User,
  session: Session,
  role: RoleAccess,
): Promise<string> {
  const ic = portal.instance();
  const endpoints = idpEndpoints(portal.portalUrl());
  const tags: Record<string, string> = {};
  for (const attr of ic.spec.accessControlAttributes ?? []) {
    const value = userValue(user, attr.source);
    if (value) tags[attr.key] = value;
  }
  const { xml } = await buildSignedResponseOffLoop(
    {
      issuer: endpoints.entityId,
      destination: ic.spec.aws.signInUrl,
      audience: AWS_AUDIENCE,
      nameId: user.metadata.uid ?? user.metadata.name,
      nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
      now: portal.now(),
      ...authnStatementOf(session),
      attributes: awsSignInAttributes({
        roleArn: role.roleArn,
        samlProviderArn: role.samlProviderArn,
        roleSessionName: user.spec.userName,
        sessionDurationSeconds: isoDurationSeconds(role.sessionDuration),
        principalTags: tags,
      }),
    },
    portal.signing,
  );
  return Buffer.from(xml).toString("base64");
}

/**
 * AWS credentials for a role: STS AssumeRoleWithSAML with the console's own assertion, so every
 * rule of the console sign-in applies. The one path to credentials (the page and the SSO API).
 */
export async function roleCredentials(
  portal: PortalContext,
  { user, session, role }: { user: User; session: Session; role: RoleAccess },
) {
  const endpoint = portal.instance().spec.aws.stsEndpoint ?? portal.stsEndpoint;
  let c;
  try {
    c = await portal.sts.assumeRoleWithSaml({
      endpoint,
      roleArn: role.roleArn,
      principalArn: role.samlProviderArn,
      assertion: await signedAwsResponse(portal, user, session, role),
    });
  } catch (err) {
    // A page that says what happened, not a request held open until the browser gives up.
    if (err instanceof StsTimeoutError) {
      portal.log.warn({ endpoint, role: role.roleArn }, "STS did not answer in time");
      throw httpError(504, "AWS did not answer in time. Try again in a moment.");
    }
    throw err;
  }
  portal.metrics.samlResponses.inc({ target: "aws_credentials" });
  return { ...c, expiration: c.expiration ?? portal.now() };
}

/** The signed-in user and the role of the form's account and permission set, if assigned. */
function authorizedRole(portal: PortalContext, req: FastifyRequest) {
  const current = req.signedIn;
  if (!current) throw httpError(401, MESSAGES.signInFirst);
  const form = req.body as Form;
  checkCsrf(current.session, form);
  const role = portal.roleOf(current.user, form.account ?? "", form.permissionSet ?? "");
  if (!role) throw httpError(403, "You are not assigned that role in that account.");
  return { ...current, role };
}

const roleForm = formRoute(["csrf", "account", "permissionSet"]);

/** The AWS console (an auto-posted SAML Response) and CLI credentials (AssumeRoleWithSAML). */
export const awsRoutes: FastifyPluginCallback = (app, _options, done) => {
  const portal = app.portal;

  app.post(
    "/aws/console",
    { schema: roleForm, preHandler: resolveSignedIn },
    async (req, reply) => {
      const { user, session, role } = authorizedRole(portal, req);
      const fields: Record<string, string> = {
        SAMLResponse: await signedAwsResponse(portal, user, session, role),
      };
      portal.metrics.samlResponses.inc({ target: "aws_console" });
      if (role.relayState) fields.RelayState = role.relayState;
      return reply.page("auto-post", {
        action: portal.instance().spec.aws.signInUrl,
        fields,
        target: "AWS",
      });
    },
  );

  app.post(
    "/aws/credentials",
    { schema: roleForm, preHandler: resolveSignedIn },
    async (req, reply) => {
      const { user, session, role } = authorizedRole(portal, req);
      const c = await roleCredentials(portal, { user, session, role });
      const creds = { ...c, expiration: c.expiration.toISOString() };
      if ((req.headers.accept ?? "").includes("application/json")) return reply.send(creds);
      const account = portal.stores.accounts.informer.get((req.body as Form).account ?? "");
      return reply.page("credentials", {
        user: { name: user.spec.userName, csrf: session.csrf },
        credentials: creds,
        profile: `${account?.spec.accountId ?? "account"}_${role.name}`,
      });
    },
  );
  done();
};
