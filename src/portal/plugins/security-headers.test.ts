import { describe, expect, it } from "vitest";
import { fakePortal } from "../fake-portal.ts";
import { securityHeaders } from "./security-headers.ts";

function headersApp() {
  const portal = fakePortal();
  portal.addInstance();
  const app = portal.app();
  void app.register(securityHeaders);
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
