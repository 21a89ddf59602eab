import type { FastifyReply } from "fastify";
import fp from "fastify-plugin";
import type { IdentityCenter } from "../../api/v1alpha1/index.ts";
import { randomHex } from "../../util/random-pool.ts";

declare module "fastify" {
  interface FastifyReply {
    /** Where this page's form posts to, when that is another origin (an SP's ACS URL). */
    formActionTarget: string | undefined;
    /** This reply's script and style nonces (32 hex digits each), which its CSP names. */
    cspNonce: { script: string; style: string };
  }
}

/**
 * The origin a form may post to besides the portal, or "" when `url` is not a URL. An origin
 * with `;` or `,` (a browser's URL parser lets them into a host name) would end the CSP
 * directive and start another: it is left out, so the form cannot post there at all.
 */
function originOf(url: string | undefined): string {
  if (!url || !URL.canParse(url)) return "";
  const origin = new URL(url).origin;
  return /[;,]/.test(origin) ? "" : origin;
}

/**
 * The headers of every answer besides the CSP: what @fastify/helmet 13 (helmet 8) sets with the
 * options of ADR 0018 (X-Frame-Options DENY, no referrer; its defaults for the rest), which
 * security-headers.test.ts checks against helmet itself, plus `Cache-Control: no-store`, which
 * helmet does not set. Written once: helmet built its whole middleware again for every request
 * (its options parsed, every directive re-validated), a few per cent of a sign-in's CPU.
 */
export const STATIC_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "origin-agent-cluster": "?1",
  "referrer-policy": "no-referrer",
  "strict-transport-security": "max-age=31536000; includeSubDomains",
  "x-content-type-options": "nosniff",
  "x-dns-prefetch-control": "off",
  "x-download-options": "noopen",
  "x-frame-options": "DENY",
  "x-permitted-cross-domain-policies": "none",
  "x-xss-protection": "0",
  "cache-control": "no-store",
};

/**
 * The CSP of a portal page: nothing loads but the portal's own stylesheet and images, no script
 * or style runs but the ones carrying this reply's nonces, forms post only to the portal and to
 * `formTargets` (origins, space-separated, or ""), nobody frames the page. Written as helmet
 * writes the same directives (`;` between them, in this order).
 */
export function contentSecurityPolicy(
  nonces: { script: string; style: string },
  formTargets: string,
): string {
  return (
    `default-src 'none';style-src 'self' 'nonce-${nonces.style}';img-src 'self' data:;` +
    `script-src 'nonce-${nonces.script}';form-action 'self'${formTargets ? ` ${formTargets}` : ""};` +
    "frame-ancestors 'none';base-uri 'none'"
  );
}

// 128 fresh random bits each, from the shared pool (one call into the CSPRNG per many).
const newNonce = () => randomHex(16);

/**
 * The headers of every answer: the CSP above with a fresh script and style nonce per reply
 * (`reply.cspNonce`), no framing (X-Frame-Options DENY as well, for browsers without
 * frame-ancestors), no referrer, no MIME sniffing, helmet's isolation headers, and no caching.
 * Forms post to the AWS sign-in URL (and an OIDC upstream's origin) unless the page names
 * another target.
 */
export const securityHeaders = fp(
  (app, _options, done) => {
    // Without the IdentityCenter (not in the cache yet) forms post to the portal only; the
    // headers must not fail then, or /healthz would, and a liveness probe kill the pod.
    // Sign-out of a user who came through an upstream OIDC provider ends with a redirect to
    // its end-session endpoint (the issuer's origin at every provider we document); browsers
    // hold a form's redirects to form-action too, so that origin is allowed beside AWS.
    // Worked out once per version of the IdentityCenter (the cache replaces the object on
    // every change), not on every request.
    let seen: { ic: IdentityCenter | undefined; targets: string } | undefined;
    const formTargets = () => {
      const ic = app.portal.findInstance();
      if (seen && seen.ic === ic) return seen.targets;
      const source = ic?.spec.identitySource;
      const issuer = source?.type === "oidc" ? originOf(source.oidc?.issuerUrl) : "";
      const targets = [originOf(ic?.spec.aws.signInUrl), issuer].filter(Boolean).join(" ");
      seen = { ic, targets };
      return targets;
    };
    app.decorateReply("formActionTarget", undefined);
    app.decorateReply("cspNonce", undefined as unknown as FastifyReply["cspNonce"]);
    app.addHook("onRequest", (_req, reply, next) => {
      const nonces = { script: newNonce(), style: newNonce() };
      reply.cspNonce = nonces;
      void reply
        .headers(STATIC_SECURITY_HEADERS)
        .header("content-security-policy", contentSecurityPolicy(nonces, formTargets()));
      next();
    });
    app.addHook("onSend", (_req, reply, payload, next) => {
      // The CSP was written in onRequest, before the route knew where its form posts: a page
      // with its own target gets it again, with the same nonces and that target instead of AWS.
      const target = reply.formActionTarget;
      if (target !== undefined)
        void reply.header(
          "content-security-policy",
          contentSecurityPolicy(reply.cspNonce, originOf(target)),
        );
      next(null, payload);
    });
    done();
  },
  { name: "portal-security-headers", fastify: "5.x", dependencies: ["portal-context"] },
);
