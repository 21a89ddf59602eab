import helmet from "@fastify/helmet";
import fp from "fastify-plugin";

declare module "fastify" {
  interface FastifyReply {
    /** Where this page's form posts to, when that is another origin (an SP's ACS URL). */
    formActionTarget: string | undefined;
  }
}

/** The origin a form may post to besides the portal, or "" when `url` is not a URL. */
function originOf(url: string | undefined): string {
  return url && URL.canParse(url) ? new URL(url).origin : "";
}

/**
 * The CSP of a portal page before @fastify/helmet adds the reply's script and style nonces:
 * nothing loads but the portal's own stylesheet and images, no script runs but the one carrying
 * the nonce, forms post only to the portal and to the origins `formTarget` names, nobody frames
 * the page.
 */
function directives(formTarget: () => string, nonces?: { script: string; style: string }) {
  return {
    defaultSrc: ["'none'"],
    styleSrc: ["'self'", ...(nonces ? [`'nonce-${nonces.style}'`] : [])],
    imgSrc: ["'self'", "data:"],
    scriptSrc: nonces ? [`'nonce-${nonces.script}'`] : [],
    // One value for both sources: helmet would print an absent second one as a stray space.
    formAction: [() => ["'self'", formTarget()].filter(Boolean).join(" ")],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  };
}

/**
 * The headers of every answer, from @fastify/helmet with a fresh script and style nonce per
 * reply (`reply.cspNonce`): the CSP above, no framing (X-Frame-Options DENY as well, for browsers
 * without frame-ancestors), no referrer, no MIME sniffing; and no caching, which helmet does not
 * do. Forms post to the AWS sign-in URL (and an OIDC upstream's origin) unless the page names
 * another target.
 */
export const securityHeaders = fp(
  async (app) => {
    // Without the IdentityCenter (not in the cache yet) forms post to the portal only; the
    // headers must not fail then, or /healthz would, and a liveness probe kill the pod.
    // Sign-out of a user who came through an upstream OIDC provider ends with a redirect to
    // its end-session endpoint (the issuer's origin at every provider we document); browsers
    // hold a form's redirects to form-action too, so that origin is allowed beside AWS.
    const formTargets = () => {
      const ic = app.portal.findInstance();
      const source = ic?.spec.identitySource;
      const issuer = source?.type === "oidc" ? originOf(source.oidc?.issuerUrl) : "";
      return [originOf(ic?.spec.aws.signInUrl), issuer].filter(Boolean).join(" ");
    };
    await app.register(helmet, {
      enableCSPNonces: true,
      contentSecurityPolicy: { useDefaults: false, directives: directives(formTargets) },
      xFrameOptions: { action: "deny" },
      referrerPolicy: { policy: "no-referrer" },
    });
    app.decorateReply("formActionTarget", undefined);
    app.addHook("onRequest", async (_req, reply) => {
      void reply.header("cache-control", "no-store");
    });
    app.addHook("onSend", async (_req, reply) => {
      // helmet wrote the CSP in onRequest, before the route knew where its form posts: a page
      // with its own target gets it again, with the same nonces and that target instead of AWS.
      const target = reply.formActionTarget;
      if (target === undefined) return;
      reply.helmet({
        contentSecurityPolicy: {
          useDefaults: false,
          directives: directives(() => originOf(target), reply.cspNonce),
        },
      });
    });
  },
  { name: "portal-security-headers", fastify: "5.x", dependencies: ["portal-context"] },
);
