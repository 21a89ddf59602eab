// A real upstream OpenID Connect provider for the tests: panva's certified `oidc-provider`,
// run as its own process over TLS. Its login page is a small form of ours (user, password and
// whether the user "used" a second factor, which sets the id_token's amr); everything
// protocol-side (discovery, PKCE, codes, id_tokens, end_session) is the library's.
// Settings come as JSON in IDC_OIDC_PROVIDER (see oidc-provider.ts).
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import Provider from "oidc-provider";

interface Settings {
  port: number;
  issuer: string;
  keyFile: string;
  certFile: string;
  clients: {
    client_id: string;
    client_secret: string;
    redirect_uris: string[];
    post_logout_redirect_uris: string[];
  }[];
  accounts: Record<string, { password: string; claims: Record<string, unknown> }>;
}

const settings = JSON.parse(process.env.IDC_OIDC_PROVIDER ?? "{}") as Settings;

const provider = new Provider(settings.issuer, {
  clients: settings.clients.map((c) => ({
    ...c,
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_post",
  })),
  findAccount: (_ctx, id) => {
    const account = settings.accounts[id];
    if (!account) return undefined;
    return { accountId: id, claims: () => ({ sub: id, ...account.claims }) };
  },
  claims: {
    // amr only reaches the id_token as a claim of a granted scope (as Keycloak and Entra ID
    // send it by default); it says whether the user used the security key.
    openid: ["sub", "amr"],
    email: ["email", "email_verified"],
    profile: ["name", "given_name", "family_name", "preferred_username"],
    groups: ["groups"],
  },
  scopes: ["openid", "offline_access", "groups"],
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ["test-only-cookie-key-0123456789"] },
  ttl: { IdToken: 3600, AccessToken: 3600, Session: 3600, Grant: 3600, Interaction: 600 },
});

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${String(c.charCodeAt(0))};`);

async function form(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

async function interaction(req: IncomingMessage, res: ServerResponse, uid: string) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === "GET") {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<!doctype html><title>Upstream sign-in</title><h1>Upstream IdP sign-in</h1>
<form method="post" action="/interaction/${escape(uid)}">
<label>Login <input name="login" id="upstream-login"></label>
<label>Password <input name="password" type="password" id="upstream-password"></label>
<label><input type="checkbox" name="otp" value="1" id="upstream-otp"> I used my security key</label>
<button type="submit" id="upstream-submit">Sign in upstream</button></form>`);
    return;
  }
  const body = await form(req);
  const accountId = body.get("login") ?? "";
  const account = settings.accounts[accountId];
  if (!account || account.password !== body.get("password")) {
    res.writeHead(401, { "content-type": "text/html" });
    res.end("<h1>Wrong login or password</h1>");
    return;
  }
  const clientId = String(details.params.client_id);
  const grant = details.grantId
    ? ((await provider.Grant.find(details.grantId)) ?? new provider.Grant({ accountId, clientId }))
    : new provider.Grant({ accountId, clientId });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    {
      login: { accountId, amr: body.get("otp") ? ["pwd", "otp"] : ["pwd"] },
      consent: { grantId },
    },
    { mergeWithLastSubmission: false },
  );
}

const callback = provider.callback();
const server = createServer(
  { key: readFileSync(settings.keyFile), cert: readFileSync(settings.certFile) },
  (req, res) => {
    const match = /^\/interaction\/([^/?]+)/.exec(req.url ?? "");
    if (!match?.[1]) {
      void callback(req, res);
      return;
    }
    interaction(req, res, match[1]).catch((err: unknown) => {
      console.error(err);
      res.writeHead(500);
      res.end(String(err));
    });
  },
);
server.listen(settings.port, "127.0.0.1", () => {
  console.log(`oidc-provider listening at ${settings.issuer}`);
});
process.once("SIGTERM", () => server.close(() => process.exit(0)));
