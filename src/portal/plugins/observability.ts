import fp from "fastify-plugin";

declare module "fastify" {
  interface FastifyRequest {
    /** One audit line and one count per sign-in step, never with the password or the code. */
    audit(step: string, result: string, userName: string): void;
  }
}

/** Request durations by route pattern and the audit trail of sign-in steps. */
export const observability = fp(
  (app, _options, done) => {
    const { metrics, log } = app.portal;
    app.decorateRequest("audit", function (step: string, result: string, userName: string) {
      metrics.signIns.inc({ step, result });
      // The client address is worked out from X-Forwarded-For on each read: only when the
      // line is written (a portal at log level warn writes no audit lines).
      if (log.isLevelEnabled("info"))
        log.info({ audit: true, step, result, user: userName, ip: this.ip }, "sign-in");
    });
    app.addHook("onResponse", async (req, reply) => {
      metrics.requests.observe(
        {
          route: req.routeOptions.url ?? "unmatched",
          method: req.method,
          status: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
    });
    done();
  },
  { name: "portal-observability", fastify: "5.x", dependencies: ["portal-context"] },
);
