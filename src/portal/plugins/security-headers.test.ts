import helmet from "@fastify/helmet";
import type { FastifyPluginAsync, FastifyPluginCallback } from "fastify";
import fp from "fastify-plugin";
import { describe, expect, it } from "vitest";
import type { IdentityCenter } from "../../api/v1alpha1/index.ts";
import { fakePortal, identityCenter } from "../fake-portal.ts";
import { securityHeaders } from "./security-headers.ts";

/**
 * The plugin as it was, on @fastify/helmet with the options of ADR 0018 (helmet rebuilt on every
 * request): the headers written once must stay exactly the ones helmet writes.
 */
const helmetHeaders = fp(
  async (app) => {
    const originOf = (url: string | undefined) =>
      url && URL.canParse(url) ? new URL(url).origin : "";
    const directives = (formTarget: () => string, nonces?: { script: string; style: string }) => ({
      defaultSrc: ["'none'"],
      styleSrc: ["'self'", ...(nonces ? [`'nonce-${nonces.style}'`] : [])],
      imgSrc: ["'self'", "data:"],
      scriptSrc: nonces ? [`'nonce-${nonces.script}'`] : [],
      formAction: [() => ["'self'", formTarget()].filter(Boolean).join(" ")],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
    });
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

function headersApp(
  plugin: FastifyPluginCallback | FastifyPluginAsync = securityHeaders,
  ic: IdentityCenter | "none" = identityCenter(),
) {
  const portal = fakePortal();
  if (ic !== "none") portal.addInstance(ic);
  const app = portal.app();
  void app.register(plugin);
  app.get("/plain", () => "plain");
  app.get("/script", (_req, reply) => reply.send(reply.cspNonce.script));
  app.get("/acs", (_req, reply) => {
    reply.formActionTarget = "https://wiki.example.com/saml/acs";
    return reply.send("acs");
  });
  app.get("/acs-script", (_req, reply) => {
    reply.formActionTarget = "https://wiki.example.com/saml/acs";
    return reply.send(reply.cspNonce.script);
  });
  return app;
}

describe("the security headers plugin", () => {
  it("allows no script or style without this reply's nonce, no framing and no caching", async () => {
    const res = await headersApp().inject({ url: "/plain" });
    const csp = String(res.headers["content-security-policy"]);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'nonce-[0-9a-f]{32}'/);
    expect(csp).toMatch(/style-src 'self' 'nonce-[0-9a-f]{32}'/);
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self' https://signin.aws.amazon.com;");
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.headers["x-frame-options"]).toBe("DENY");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["referrer-policy"]).toBe("no-referrer");
  });

  it("allows the one script whose nonce the page carries, a new nonce each time", async () => {
    const app = headersApp();
    const [a, b] = [await app.inject({ url: "/script" }), await app.inject({ url: "/script" })];
    expect(a.body).toMatch(/^[0-9a-f]{32}$/);
    expect(a.body).not.toBe(b.body);
    expect(String(a.headers["content-security-policy"])).toContain(`script-src 'nonce-${a.body}'`);
  });

  it("lets a page post only to its own target origin (an SP's ACS URL), not to AWS", async () => {
    const res = await headersApp().inject({ url: "/acs" });
    const csp = String(res.headers["content-security-policy"]);
    expect(csp).toContain("form-action 'self' https://wiki.example.com;");
    expect(csp).not.toContain("signin.aws.amazon.com");
  });

  it("keeps the page's own script nonce when the page names its form target (the auto-post still runs)", async () => {
    const res = await headersApp().inject({ url: "/acs-script" });
    const csp = String(res.headers["content-security-policy"]);
    expect(res.body).toMatch(/^[0-9a-f]{32}$/);
    expect(csp).toContain(`script-src 'nonce-${res.body}'`);
    expect(csp.match(/content-security-policy|script-src/g)).toHaveLength(1);
    expect(csp).toContain("form-action 'self' https://wiki.example.com;");
  });

  it("adds helmet's isolation headers: HSTS, same-origin opener and resources", async () => {
    const res = await headersApp().inject({ url: "/plain" });
    expect(res.headers["strict-transport-security"]).toMatch(/^max-age=\d{8}/);
    expect(res.headers["cross-origin-opener-policy"]).toBe("same-origin");
    expect(res.headers["cross-origin-resource-policy"]).toBe("same-origin");
    expect(res.headers["x-permitted-cross-domain-policies"]).toBe("none");
  });
});

/** A reply's headers with its nonces and the per-connection headers taken out. */
function comparable(headers: Record<string, unknown>): Record<string, string> {
  const kept: [string, string][] = Object.entries(headers)
    .filter(([name]) => !["date", "connection", "keep-alive"].includes(name))
    .map(([name, value]) => [name, String(value).replace(/'nonce-[0-9a-f]{32}'/g, "'nonce-…'")]);
  return Object.fromEntries(kept.sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe("the security headers, written once instead of by helmet on every request", () => {
  const oidc = identityCenter();
  oidc.spec.identitySource = {
    type: "oidc",
    jitProvisioning: false,
    trustUpstreamMfa: true,
    oidc: { issuerUrl: "https://login.example.org/tenant/v2.0", clientId: "portal" },
  } as IdentityCenter["spec"]["identitySource"];
  const cases: [string, IdentityCenter | "none", string][] = [
    ["a plain page", identityCenter(), "/plain"],
    ["a page posting to an SP's ACS URL", identityCenter(), "/acs"],
    ["a page with a script and its own target", identityCenter(), "/acs-script"],
    ["an upstream OIDC issuer beside AWS", oidc, "/plain"],
    ["no IdentityCenter in the cache", "none", "/plain"],
  ];
  for (const [what, ic, url] of cases)
    it(`are the headers @fastify/helmet wrote, for ${what}`, async () => {
      const ours = await headersApp(securityHeaders, ic).inject({ url });
      const helmets = await headersApp(helmetHeaders, ic).inject({ url });
      expect(ours.statusCode).toBe(helmets.statusCode);
      expect(comparable(ours.headers)).toEqual(comparable(helmets.headers));
    });

  it("keeps /healthz up when the sign-in URL's host would add a CSP directive (helmet threw: a 500 on every page)", async () => {
    const ic = identityCenter();
    // A browser's URL parser takes ';' into the host: the origin would end form-action.
    ic.spec.aws.signInUrl = "https://signin.aws.amazon.com;sandbox/saml";
    const app = fakePortal();
    app.addInstance(ic);
    const server = app.app();
    void server.register(securityHeaders);
    server.get("/healthz", () => "ok\n");
    const res = await server.inject({ url: "/healthz" });
    expect(res.statusCode).toBe(200);
    const csp = String(res.headers["content-security-policy"]);
    // The directive cannot be broken out of: the origin is left out, forms post to the portal.
    expect(csp).toContain("form-action 'self';");
    expect(csp).not.toContain("sandbox");
  });
});

describe("the security headers without the IdentityCenter", () => {
  it("still answers (forms to the portal only), so /healthz stays live", async () => {
    const app = fakePortal().app();
    void app.register(securityHeaders);
    app.get("/healthz", () => "ok\n");
    const res = await app.inject({ url: "/healthz" });
    expect(res.statusCode).toBe(200);
    expect(String(res.headers["content-security-policy"])).toContain("form-action 'self';");
  });
});
