import type { FastifyPluginAsync } from "fastify";
import { isValidUser } from "../../identity/directory.ts";
import { SSO_OIDC_PATH, SSO_PORTAL_PATH } from "../../plan/sso-endpoints.ts";
import type { PortalContext } from "../context.ts";
import { checkCsrf } from "../plugins/csrf.ts";
import { anonymousSession, resolveSignedIn } from "../plugins/session.ts";
import { roleCredentials } from "../routes/aws.ts";
import { idpEndpoints } from "../../saml/metadata.ts";
import { approvalPages } from "./approve.ts";
import type { SsoContext } from "./context.ts";
import { oidcApi } from "./oidc.ts";
import { portalApi } from "./portal-api.ts";
import { ssoTokenKey } from "./tokens.ts";

export type { SsoContext } from "./context.ts";

/** What the SSO APIs take from the portal: its caches, credential records, keys and sessions. */
export function ssoContext(portal: PortalContext): SsoContext {
  const s = portal.stores;
  return {
    get tokenKey() {
      return portal.sessionKeys().map((k) => ssoTokenKey(k.key));
    },
    now: portal.now,
    instance: () => portal.instance(),
    portalUrl: () => idpEndpoints(portal.portalUrl()).portalUrl,
    credentials: portal.credentials,
    approvals: portal.deviceApprovals,
    activeUser(userName) {
      const name = s.directory.validUserFor(userName);
      const user = name === undefined ? undefined : s.users.informer.get(name);
      return user?.spec.active && isValidUser(user, s.directory) ? user : undefined;
    },
    accessOf: (user) => portal.accessOf(user),
    accessIn: (user, accountId) => portal.accessIn(user, accountId),
    roleCredentials: (user, role, approvedAt) =>
      roleCredentials(portal, {
        user,
        role,
        // The CLI sign-in was approved in a portal session at that time.
        session: {
          userName: user.spec.userName,
          epoch: 0,
          issuedAt: approvedAt,
          lastSeen: approvedAt,
          csrf: "",
        },
      }),
    async currentUser(req, reply) {
      await resolveSignedIn(req, reply);
      return req.signedIn;
    },
    checkCsrf,
    signInFirst(req, reply) {
      reply.writeSession({
        ...anonymousSession(req.session, portal.now().getTime()),
        returnTo: req.url,
      });
      return reply.redirect("/login", 303);
    },
    log: portal.log,
  };
}

/**
 * CLI and SDK sign-in: the SSO OIDC API and the SSO portal API under paths of the portal URL
 * (the SDKs accept a path prefix in their endpoint URL), and the approval pages.
 */
export const ssoRoutes: FastifyPluginAsync = async (app) => {
  const ctx = ssoContext(app.portal);
  await app.register(oidcApi(ctx), { prefix: SSO_OIDC_PATH });
  await app.register(portalApi(ctx), { prefix: SSO_PORTAL_PATH });
  await app.register(approvalPages(ctx));
};
