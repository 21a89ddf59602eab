import cookie from "@fastify/cookie";
import formbody from "@fastify/formbody";
import Fastify from "fastify";
import { PortalContext, portalContext, type PortalDeps } from "./context.ts";
import { errorPages } from "./errors.ts";
import { observability } from "./plugins/observability.ts";
import { securityHeaders } from "./plugins/security-headers.ts";
import { sessions } from "./plugins/session.ts";
import { accountRoutes } from "./routes/account.ts";
import { applicationRoutes } from "./routes/applications.ts";
import { awsRoutes } from "./routes/aws.ts";
import { healthRoutes } from "./routes/health.ts";
import { setupRoutes } from "./routes/setup.ts";
import { signInRoutes } from "./routes/sign-in.ts";

export type { CredentialBackend, PortalDeps, PortalStores } from "./context.ts";

/**
 * The access portal and SAML IdP as a Fastify app; `idc portal` makes it listen. The shared
 * plugins (context, error pages, headers, sessions, metrics and audit) decorate the root; each
 * route plugin holds one concern and sees only those decorators.
 */
export function buildPortalApp(deps: PortalDeps) {
  const app = Fastify({ loggerInstance: deps.log, trustProxy: true, bodyLimit: 64 * 1024 });
  void app.register(formbody);
  void app.register(cookie);
  void app.register(portalContext, { context: new PortalContext(deps) });
  void app.register(observability);
  void app.register(securityHeaders);
  void app.register(errorPages);
  void app.register(sessions);
  void app.register(healthRoutes);
  void app.register(signInRoutes);
  void app.register(setupRoutes);
  void app.register(accountRoutes);
  void app.register(applicationRoutes);
  void app.register(awsRoutes);
  return app;
}
