import cookie from "@fastify/cookie";
import formbody from "@fastify/formbody";
import Fastify, { type FastifyRequest } from "fastify";
import { PortalContext, portalContext, type PortalDeps } from "./context.ts";
import { errorPages } from "./errors.ts";
import { observability } from "./plugins/observability.ts";
import { securityHeaders } from "./plugins/security-headers.ts";
import { sessions } from "./plugins/session.ts";
import { views } from "./plugins/views.ts";
import { accountRoutes } from "./routes/account.ts";
import { applicationRoutes } from "./routes/applications.ts";
import { awsRoutes } from "./routes/aws.ts";
import { healthRoutes } from "./routes/health.ts";
import { setupRoutes } from "./routes/setup.ts";
import { signInRoutes } from "./routes/sign-in.ts";
import { upstreamSamlRoutes } from "./routes/upstream-saml.ts";
import { upstreamOidcRoutes } from "./routes/upstream-oidc.ts";
import { credentialThrottle } from "./throttle.ts";
import { ssoRoutes } from "./sso/index.ts";
import { SCIM_PREFIX, scimRoutes } from "./scim/index.ts";

export type { CredentialBackend, PortalDeps, PortalStores } from "./context.ts";

/**
 * What the request log says about a request: never its query string, which carries setup
 * tokens and SAML messages.
 */
function requestLogValue(req: FastifyRequest) {
  return {
    method: req.method,
    url: req.url.split("?")[0],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket.remotePort,
  };
}

/**
 * A user made inactive or deleted loses every session at once, on every replica, and a later
 * reactivation does not bring them back (they are gone from the record). Level-based: the
 * informer's first list revokes for users already inactive when the portal starts.
 */
function revokeSessionsOfInactiveUsers(portal: PortalContext): () => void {
  let closed = false;
  portal.stores.users.informer.onChange(({ type, object }) => {
    if (closed || (type !== "delete" && object.spec.active)) return;
    portal.checks.revokeAll(object.spec.userName).catch((err: unknown) => {
      portal.log.warn({ err: String(err), user: object.spec.userName }, "revoking sessions failed");
    });
  });
  return () => {
    closed = true;
  };
}

/**
 * The access portal and SAML IdP as a Fastify app; `idc portal` makes it listen. The shared
 * plugins (context, error pages, headers, sessions, metrics and audit) decorate the root; each
 * route plugin holds one concern and sees only those decorators.
 */
export function buildPortalApp(deps: PortalDeps) {
  const hops = deps.trustedProxyHops ?? 1;
  const app = Fastify({
    loggerInstance: deps.log.child({}, { serializers: { req: requestLogValue } }),
    // The first `hops` addresses, from the socket back, are our proxies; the next is the client.
    trustProxy: (_address: string, hop: number) => hop < hops,
    bodyLimit: 64 * 1024,
  });
  const context = new PortalContext(deps);
  void app.register(formbody);
  void app.register(cookie);
  void app.register(portalContext, { context });
  void app.register(credentialThrottle);
  void app.register(observability);
  void app.register(securityHeaders);
  void app.register(views);
  void app.register(errorPages);
  void app.register(sessions);
  void app.register(healthRoutes);
  void app.register(signInRoutes);
  void app.register(upstreamSamlRoutes);
  void app.register(upstreamOidcRoutes);
  void app.register(setupRoutes);
  void app.register(accountRoutes);
  void app.register(applicationRoutes);
  void app.register(awsRoutes);
  const stopRevoking = revokeSessionsOfInactiveUsers(context);
  app.addHook("onClose", (_instance, done) => {
    stopRevoking();
    context.sts.close();
    done();
  });
  void app.register(ssoRoutes);
  if (deps.scim) void app.register(scimRoutes, { prefix: SCIM_PREFIX, backend: deps.scim });
  return app;
}
