import { esc, page } from "../html.ts";

type Who = { name: string; csrf: string };

const hidden = (fields: Record<string, string>) =>
  Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join("");

/** Asks for the code the terminal shows, when the user opened the plain verification URL. */
export function deviceCodeEntryPage(user: Who, error?: string): string {
  return page(
    "Sign in a device",
    `<div class="card"><h1>Sign in a command-line tool</h1>${error ? `<p class="error" role="alert">${esc(error)}</p>` : ""}
<form method="get" action="/device"><label>The code your terminal shows<input name="user_code" autocomplete="off" autocapitalize="characters" required></label>
<button type="submit">Next</button></form></div>`,
    user,
  );
}

/** The approval page of a device authorization: the code to compare, and who asks. */
export function deviceApprovalPage(
  user: Who,
  request: { userCode: string; clientName: string | undefined; ticket: string | undefined },
): string {
  const client = request.clientName
    ? `<p><strong id="client-name">${esc(request.clientName)}</strong> asks to access your AWS accounts and roles as you.</p>`
    : `<p>A command-line tool asks to access your AWS accounts and roles as you.</p>`;
  const fields = hidden({
    csrf: user.csrf,
    user_code: request.userCode,
    ...(request.ticket ? { ticket: request.ticket } : {}),
  });
  return page(
    "Allow access",
    `<div class="card"><h1>Allow access?</h1>${client}
<p>Allow only if your terminal shows this code:</p><p><code id="user-code" style="font-size:28px">${esc(request.userCode)}</code></p>
<form class="inline" method="post" action="/device">${fields}<button name="action" value="allow" type="submit">Allow</button></form>
<form class="inline" method="post" action="/device">${fields}<button name="action" value="deny" type="submit">Deny</button></form></div>`,
    user,
  );
}

export function deviceDonePage(user: Who, allowed: boolean): string {
  return page(
    allowed ? "Access allowed" : "Access denied",
    `<div class="card"><h1 id="done">${allowed ? "Access allowed" : "Access denied"}</h1><p>${allowed ? "You can close this window and go back to your terminal." : "The command-line tool gets no access. You can close this window."}</p></div>`,
    user,
  );
}

/** The consent page of an authorization-code (PKCE) request. */
export function authorizePage(
  user: Who,
  request: { clientName: string; redirectHost: string; fields: Record<string, string> },
): string {
  const fields = hidden({ csrf: user.csrf, ...request.fields });
  return page(
    "Allow access",
    `<div class="card"><h1>Allow access?</h1><p><strong id="client-name">${esc(request.clientName)}</strong> asks to access your AWS accounts and roles as you.</p>
<p class="muted">It will receive the answer at ${esc(request.redirectHost)} on this computer.</p>
<form class="inline" method="post" action="/authorize">${fields}<button name="action" value="allow" type="submit">Allow</button></form>
<form class="inline" method="post" action="/authorize">${fields}<button name="action" value="deny" type="submit">Deny</button></form></div>`,
    user,
  );
}
