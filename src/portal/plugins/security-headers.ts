import { randomBytes } from "node:crypto";
import fp from "fastify-plugin";

declare module "fastify" {
  interface FastifyReply {
    /** The nonce of the one inline script a page may run ("" when it runs none). */
    cspNonce: string;
    /** Where this page's form posts to, when that is another origin (an SP's ACS URL). */
    formActionTarget: string | undefined;
    /** A fresh nonce for this page's inline script, put in the CSP of this reply. */
    scriptNonce(): string;
  }
}

/**
 * The headers of every answer: a CSP that allows no script but one with this reply's nonce, forms
 * only to the portal and to the one place this page posts a SAML response to (the AWS sign-in
 * URL unless the page names another), no framing, no caching, no referrer.
 */
export const securityHeaders = fp(
  (app, _options, done) => {
    app.decorateReply("cspNonce", "");
    app.decorateReply("formActionTarget", undefined);
    app.decorateReply("scriptNonce", function () {
      this.cspNonce = randomBytes(16).toString("base64");
      return this.cspNonce;
    });
    app.addHook("onSend", async (_req, reply) => {
      // Without the IdentityCenter (not in the cache yet) forms post to the portal only; the
      // headers must not fail then, or /healthz would, and a liveness probe kill the pod.
      const target = reply.formActionTarget ?? app.portal.findInstance()?.spec.aws.signInUrl;
      const signIn = target && URL.canParse(target) ? new URL(target).origin : "";
      reply.header(
        "content-security-policy",
        `default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; script-src 'nonce-${reply.cspNonce}'; form-action 'self'${signIn ? ` ${signIn}` : ""}; frame-ancestors 'none'; base-uri 'none'`,
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
