import { randomBytes } from "node:crypto";
import type { FastifyReply } from "fastify";
import fp from "fastify-plugin";

declare module "fastify" {
  interface FastifyReply {
    /** This reply's nonces: only a script or style element carrying one runs. */
    cspNonce: { script: string; style: string };
    /** Where this page's form posts to, when that is another origin (an SP's ACS URL). */
    formActionTarget: string | undefined;
  }
}

/**
 * The headers of every answer: a CSP that allows no script but the one with this reply's nonce,
 * styles only from the portal's stylesheet, forms only to the portal and to the one place this page posts a SAML response to (the
 * AWS sign-in URL unless the page names another), no framing, no caching, no referrer.
 */
export const securityHeaders = fp(
  (app, _options, done) => {
    // Set for each reply in onRequest below; a shared object default would be shared by all.
    app.decorateReply("cspNonce", null as unknown as FastifyReply["cspNonce"]);
    app.decorateReply("formActionTarget", undefined);
    app.addHook("onRequest", (_req, reply, next) => {
      reply.cspNonce = {
        script: randomBytes(16).toString("hex"),
        style: randomBytes(16).toString("hex"),
      };
      next();
    });
    app.addHook("onSend", async (_req, reply) => {
      // Without the IdentityCenter (not in the cache yet) forms post to the portal only; the
      // headers must not fail then, or /healthz would, and a liveness probe kill the pod.
      const target = reply.formActionTarget ?? app.portal.findInstance()?.spec.aws.signInUrl;
      const signIn = target && URL.canParse(target) ? new URL(target).origin : "";
      const { script, style } = reply.cspNonce;
      reply.header(
        "content-security-policy",
        `default-src 'none'; style-src 'self' 'nonce-${style}'; img-src 'self' data:; script-src 'nonce-${script}'; form-action 'self'${signIn ? ` ${signIn}` : ""}; frame-ancestors 'none'; base-uri 'none'`,
      );
      reply.header("x-content-type-options", "nosniff");
      reply.header("referrer-policy", "no-referrer");
      reply.header("x-frame-options", "DENY");
      reply.header("cache-control", "no-store");
    });
    done();
  },
  { name: "portal-security-headers", fastify: "5.x", dependencies: ["portal-context"] },
);
