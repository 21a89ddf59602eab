import { describe, expect, it } from "vitest";
import type { Application } from "../../api/v1alpha1/index.ts";
import { fakePortal } from "../fake-portal.ts";
import type { Pages } from "./views.ts";

const HOSTILE = `<script>alert("x")</script> ' onmouseover='alert(1)`;
const ESCAPED = `&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &#39; onmouseover=&#39;alert(1)`;

const application: Application = {
  apiVersion: "identitycenter.dev/v1alpha1",
  kind: "Application",
  metadata: { name: "wiki", generation: 1 },
  spec: {
    displayName: HOSTILE,
    description: HOSTILE,
    entityId: "https://wiki.example.com/saml",
    acsUrl: "https://wiki.example.com/saml/acs",
    nameId: { format: "emailAddress", source: "email" },
    signing: { assertion: true, response: false },
  },
};

async function render<K extends keyof Pages>(name: K, data: Pages[K]) {
  const app = fakePortal().app({ pages: true });
  app.get("/", (_req, reply) => reply.page(name, data));
  return app.inject({ url: "/" });
}

const user = { name: HOSTILE, csrf: `"><x` };

describe("the page templates", () => {
  it("escape hostile user, account, role and application names on the portal page", async () => {
    const res = await render("portal", {
      user,
      query: HOSTILE,
      accounts: [
        {
          account: HOSTILE,
          accountId: "111111111111",
          displayName: HOSTILE,
          roles: [
            {
              name: HOSTILE,
              description: HOSTILE,
              permissionSet: HOSTILE,
              roleArn: "arn:aws:iam::111111111111:role/x",
              samlProviderArn: "arn:aws:iam::111111111111:saml-provider/x",
              sessionDuration: "PT1H",
              relayState: undefined,
            },
          ],
        },
      ],
      applications: [application],
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.body).not.toContain("<script>");
    expect(res.body).not.toContain("' onmouseover");
    expect(res.body).toContain(`<span>${ESCAPED} <form class="inline"`); // the user in the header
    expect(res.body).toContain(`data-account="${ESCAPED}"`);
    expect(res.body).toContain(`<h2>${ESCAPED} <span class="muted">111111111111</span></h2>`);
    expect(res.body).toContain(`data-permission-set="${ESCAPED}"`);
    expect(res.body).toContain(`<span>${ESCAPED} <span class="muted">${ESCAPED}</span></span>`);
    expect(res.body).toContain(`value="&quot;&gt;&lt;x"`);
    expect(res.body).toContain(`<input name="q" value="${ESCAPED}"`);
  });

  it("escape the application's name on its sign-in page and on the auto-posting page", async () => {
    const page = await render("application", { user, application });
    expect(page.body).not.toContain("<script>");
    expect(page.body).toContain(`<h1>${ESCAPED}</h1>`);
    expect(page.body).toContain(`<button>Sign in to ${ESCAPED}</button>`);
    const post = await render("auto-post", {
      action: `https://sp.example.com/acs?a=1&b="2"`,
      fields: { RelayState: HOSTILE },
      target: HOSTILE,
    });
    expect(post.body).toContain(`<title>Signing in to ${ESCAPED}</title>`);
    expect(post.body).toContain(`action="https://sp.example.com/acs?a=1&amp;b=&quot;2&quot;"`);
    expect(post.body).toContain(`name="RelayState" value="${ESCAPED}"`);
    // The one script is the page's own, with this reply's nonce.
    const nonce = /script-src 'nonce-([0-9a-f]+)'/.exec(
      String(post.headers["content-security-policy"]),
    )?.[1];
    expect(post.body.match(/<script/g)).toHaveLength(1);
    expect(post.body).toContain(`<script nonce="${String(nonce)}">`);
  });

  it("escape error messages and the user name of the setup page", async () => {
    const error = await render("error", { status: 403, message: HOSTILE });
    expect(error.body).toContain(`<p>${ESCAPED}</p>`);
    const setup = await render("setup", { token: "t", csrf: "c", userName: HOSTILE });
    expect(setup.body).toContain(`<h1>Welcome, ${ESCAPED}</h1>`);
    expect(setup.body).toContain(`name="user" value="${ESCAPED}"`);
    expect(setup.body).not.toContain("<script>");
  });

  it("escape the name a command-line client registered itself with on the SSO approval pages", async () => {
    // RegisterClient takes any clientName: it is the one name on these pages an attacker picks.
    const device = await render("device-approval", {
      user,
      userCode: "ABCD-EFGH",
      clientName: HOSTILE,
      ticket: HOSTILE,
    });
    expect(device.body).not.toContain("<script>");
    expect(device.body).toContain(`<strong id="client-name">${ESCAPED}</strong>`);
    expect(device.body).toContain(`<code id="user-code" class="user-code">ABCD-EFGH</code>`);
    expect(device.body.split(`name="ticket" value="${ESCAPED}"`)).toHaveLength(3); // both forms
    const consent = await render("authorize", {
      user,
      clientName: HOSTILE,
      redirectHost: HOSTILE,
      fields: { state: HOSTILE, [HOSTILE]: "x" },
    });
    expect(consent.body).not.toContain("<script>");
    expect(consent.body).toContain(`<strong id="client-name">${ESCAPED}</strong>`);
    expect(consent.body).toContain(`answer at ${ESCAPED} on this computer`);
    expect(consent.body).toContain(`name="state" value="${ESCAPED}"`);
    expect(consent.body).toContain(`name="${ESCAPED}" value="x"`);
    const entry = await render("device-code", { user, error: HOSTILE });
    expect(entry.body).toContain(`<p class="error" role="alert">${ESCAPED}</p>`);
    const done = await render("device-done", { user, allowed: false });
    expect(done.body).toContain(`<h1 id="done">Access denied</h1>`);
  });
});

describe("the stylesheet", () => {
  it("is served from the portal's origin, so pages carry no inline style", async () => {
    const app = fakePortal().app({ pages: true });
    app.get("/", (_req, reply) => reply.page("login", { csrf: "c" }));
    app.get("/device-approval", (_req, reply) =>
      reply.page("device-approval", {
        user: { name: "alice", csrf: "c" },
        userCode: "ABCD-EFGH",
        clientName: "aws-cli",
        ticket: undefined,
      }),
    );
    const page = await app.inject({ url: "/" });
    expect(page.body).toContain('<link rel="stylesheet" href="/portal.css">');
    expect(page.body).not.toMatch(/<style|style=/);
    const device = await app.inject({ url: "/device-approval" });
    expect(device.body).toContain("ABCD-EFGH");
    expect(device.body).not.toMatch(/<style|style=/);
    const css = await app.inject({ url: "/portal.css" });
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8");
    expect(css.body).toContain("font-family");
  });

  it("makes the same page for the same data: no per-reply value in a page without script", async () => {
    const app = fakePortal().app({ pages: true });
    app.get("/", (_req, reply) => reply.page("login", { csrf: "c", error: "wrong" }));
    expect((await app.inject({ url: "/" })).body).toBe((await app.inject({ url: "/" })).body);
  });
});
