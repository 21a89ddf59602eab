import type { Application } from "../api/v1alpha1/index.ts";
import type { AccountAccess } from "./access.ts";
import { qrCodeSvg } from "./qr-code.ts";

/** Escapes text for HTML element content and double-quoted attributes. */
export function esc(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#16191f}
header{background:#232f3e;color:#fff;padding:12px 24px;display:flex;justify-content:space-between;align-items:center}
main{max-width:880px;margin:24px auto;padding:0 16px}.card{background:#fff;border-radius:8px;padding:16px 20px;margin:12px 0;box-shadow:0 1px 2px #0002}
input{padding:8px;font-size:15px;width:100%;box-sizing:border-box;margin:4px 0 12px}button{padding:8px 14px;font-size:14px;cursor:pointer}
.error{color:#b0271b}.role{display:flex;justify-content:space-between;align-items:center;padding:6px 0;border-top:1px solid #eee}
.muted{color:#5f6b7a;font-size:13px}a.button{padding:8px 14px;font-size:14px;border:1px solid #767676;border-radius:3px;color:inherit;text-decoration:none;background:#efefef}pre{background:#f0f1f3;padding:10px;overflow:auto}form.inline{display:inline}.qr svg{width:200px;height:200px}code{word-break:break-all}`;

export function page(title: string, body: string, user?: { name: string; csrf: string }): string {
  const who = user
    ? `<span>${esc(user.name)} <form class="inline" method="post" action="/logout"><input type="hidden" name="csrf" value="${esc(user.csrf)}"><button>Sign out</button></form></span>`
    : "";
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title><style>${STYLE}</style></head><body><header><strong>AWS access portal</strong>${who}</header><main>${body}</main></body></html>`;
}

export function loginPage(error?: string, csrf = ""): string {
  return page(
    "Sign in",
    `<div class="card"><h1>Sign in</h1>${error ? `<p class="error" role="alert">${esc(error)}</p>` : ""}
<form method="post" action="/login"><input type="hidden" name="csrf" value="${esc(csrf)}">
<label>User name<input name="username" autocomplete="username" required></label>
<label>Password<input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></div>`,
  );
}

export function otpPage(csrf: string, error?: string): string {
  return page(
    "Verification code",
    `<div class="card"><h1>Verification code</h1>${error ? `<p class="error" role="alert">${esc(error)}</p>` : ""}
<form method="post" action="/login/otp"><input type="hidden" name="csrf" value="${esc(csrf)}">
<label>Code from your authenticator app<input name="otp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required></label>
<button type="submit">Verify</button></form></div>`,
  );
}

export function setupPage(options: {
  token: string;
  csrf: string;
  userName: string;
  otpauthUri?: string;
  totpSecret?: string;
  error?: string;
}): string {
  const mfa = options.otpauthUri
    ? `<p>Add this account to your authenticator app, then enter the code it shows.</p>
<div id="qr" class="qr" role="img" aria-label="QR code of the authenticator setup link">${qrCodeSvg(options.otpauthUri)}</div>
<p class="muted">Cannot scan? Enter the secret instead: <code>${esc(options.totpSecret ?? "")}</code></p><p class="muted"><code id="otpauth">${esc(options.otpauthUri)}</code></p>
<label>Code<input name="otp" inputmode="numeric" pattern="[0-9]{6}" required></label>`
    : "";
  return page(
    "Set up your sign-in",
    `<div class="card"><h1>Welcome, ${esc(options.userName)}</h1>${options.error ? `<p class="error" role="alert">${esc(options.error)}</p>` : ""}
<form method="post" action="/setup"><input type="hidden" name="csrf" value="${esc(options.csrf)}"><input type="hidden" name="token" value="${esc(options.token)}"><input type="hidden" name="user" value="${esc(options.userName)}">
<label>New password (at least 12 characters)<input name="password" type="password" autocomplete="new-password" minlength="12" maxlength="256" required></label>
${mfa}<button type="submit">Save</button></form></div>`,
  );
}

function applicationTile(app: Application, csrf: string): string {
  const about = app.spec.description
    ? ` <span class="muted">${esc(app.spec.description)}</span>`
    : "";
  // An SP that needs SP-initiated sign-in is opened at its own start URL; every other one gets
  // an IdP-initiated Response from this portal.
  const open = app.spec.startUrl
    ? `<a class="button" href="${esc(app.spec.startUrl)}" rel="noopener">Open</a>`
    : `<form class="inline" method="post" action="/applications/${encodeURIComponent(app.metadata.name)}"><input type="hidden" name="csrf" value="${esc(csrf)}"><button>Open</button></form>`;
  return `<div class="role application" data-application="${esc(app.metadata.name)}"><span>${esc(app.spec.displayName)}${about}</span><span>${open}</span></div>`;
}

export function portalPage(
  user: { name: string; csrf: string },
  access: { accounts: AccountAccess[]; applications: Application[] },
  query: string,
): string {
  const q = query.toLowerCase();
  const shown = access.accounts.filter(
    (a) =>
      !q ||
      a.displayName.toLowerCase().includes(q) ||
      a.accountId.includes(q) ||
      a.roles.some((r) => r.name.toLowerCase().includes(q)),
  );
  const apps = access.applications.filter(
    (app) => !q || app.spec.displayName.toLowerCase().includes(q),
  );
  const accounts = shown
    .map(
      (
        a,
      ) => `<section class="card account" data-account="${esc(a.account)}"><h2>${esc(a.displayName)} <span class="muted">${esc(a.accountId)}</span></h2>
${a.roles
  .map(
    (
      r,
    ) => `<div class="role" data-permission-set="${esc(r.permissionSet)}"><span>${esc(r.name)}${r.description ? ` <span class="muted">${esc(r.description)}</span>` : ""}</span><span>
<form class="inline" method="post" action="/aws/console"><input type="hidden" name="csrf" value="${esc(user.csrf)}"><input type="hidden" name="account" value="${esc(a.account)}"><input type="hidden" name="permissionSet" value="${esc(r.permissionSet)}"><button>Management console</button></form>
<form class="inline" method="post" action="/aws/credentials"><input type="hidden" name="csrf" value="${esc(user.csrf)}"><input type="hidden" name="account" value="${esc(a.account)}"><input type="hidden" name="permissionSet" value="${esc(r.permissionSet)}"><button>Access keys</button></form></span></div>`,
  )
  .join("")}</section>`,
    )
    .join("");
  const applications =
    apps.length > 0
      ? `<h1>Applications (${String(apps.length)})</h1><section class="card">${apps.map((app) => applicationTile(app, user.csrf)).join("")}</section>`
      : "";
  return page(
    "AWS access portal",
    `<form method="get" action="/"><input name="q" value="${esc(query)}" placeholder="Search accounts, roles and applications" aria-label="Search"></form>
<h1>AWS accounts (${String(shown.length)})</h1>${accounts || '<p class="card">No AWS accounts are assigned to you.</p>'}${applications}`,
    user,
  );
}

/** The page behind an application's sign-in URL: one button, so a link alone signs no one in. */
export function applicationPage(user: { name: string; csrf: string }, app: Application): string {
  return page(
    app.spec.displayName,
    `<div class="card"><h1>${esc(app.spec.displayName)}</h1>${app.spec.description ? `<p class="muted">${esc(app.spec.description)}</p>` : ""}
<form method="post" action="/applications/${encodeURIComponent(app.metadata.name)}"><input type="hidden" name="csrf" value="${esc(user.csrf)}"><button>Sign in to ${esc(app.spec.displayName)}</button></form></div>`,
    user,
  );
}

export function autoPostPage(
  action: string,
  fields: Record<string, string>,
  nonce: string,
  target = "AWS",
): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join("");
  return page(
    `Signing in to ${target}`,
    `<form id="saml" method="post" action="${esc(action)}">${inputs}<noscript><button>Continue</button></noscript></form><p>Signing you in...</p>
<script nonce="${esc(nonce)}">document.getElementById("saml").submit();</script>`,
  );
}

export function credentialsPage(
  user: { name: string; csrf: string },
  c: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: string },
  label: string,
): string {
  const bash = `export AWS_ACCESS_KEY_ID="${c.accessKeyId}"\nexport AWS_SECRET_ACCESS_KEY="${c.secretAccessKey}"\nexport AWS_SESSION_TOKEN="${c.sessionToken}"`;
  const ps = `$Env:AWS_ACCESS_KEY_ID="${c.accessKeyId}"\n$Env:AWS_SECRET_ACCESS_KEY="${c.secretAccessKey}"\n$Env:AWS_SESSION_TOKEN="${c.sessionToken}"`;
  const file = `[${label}]\naws_access_key_id=${c.accessKeyId}\naws_secret_access_key=${c.secretAccessKey}\naws_session_token=${c.sessionToken}`;
  return page(
    "Access keys",
    `<div class="card"><h1>Access keys</h1><p class="muted">Valid until ${esc(c.expiration)}.</p>
<h2>macOS and Linux</h2><pre id="bash">${esc(bash)}</pre><h2>PowerShell</h2><pre>${esc(ps)}</pre><h2>~/.aws/credentials</h2><pre>${esc(file)}</pre><p><a href="/">Back</a></p></div>`,
    user,
  );
}

export function errorPage(status: number, message: string): string {
  return page(
    `Error ${String(status)}`,
    `<div class="card"><h1>${String(status)}</h1><p>${esc(message)}</p><p><a href="/">Back to the portal</a></p></div>`,
  );
}
