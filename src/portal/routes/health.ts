import type { FastifyPluginCallback } from "fastify";

/** Probes: /healthz says the process answers; /readyz that the IdentityCenter it serves is known. */
export const healthRoutes: FastifyPluginCallback = (app, _options, done) => {
  app.get("/healthz", () => "ok\n");
  // Ready only while the IdentityCenter it serves is known: without it no page can be built.
  app.get("/readyz", (_req, reply) => {
    app.portal.instance();
    return reply.type("text/plain").send("ok\n");
  });
  done();
};
