import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** A PKCE verifier and its S256 challenge (RFC 7636), with a fresh state. */
export function pkceRequest() {
  const verifier = randomBytes(48).toString("base64url");
  return {
    verifier,
    challenge: createHash("sha256").update(verifier).digest("base64url"),
    state: randomUUID(),
  };
}

const page = (text: string) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>idc login</title></head><body><p>${text}</p></body></html>`;

/**
 * The loopback listener of an authorization-code login (RFC 8252, as the AWS CLI does it): on
 * 127.0.0.1, a port of the system's choosing, `/oauth/callback`. It answers one redirect that
 * carries the expected `state` (anything else is refused and ignored, so a stray request cannot
 * end the login) and then closes.
 */
export async function loopbackCallback(state: string, timeoutMs: number) {
  let settle: { resolve: (code: string) => void; reject: (err: Error) => void } | undefined;
  const code = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== "/oauth/callback" || url.searchParams.get("state") !== state) {
      res.writeHead(400, { "content-type": "text/html" }).end(page("Not a request of this login."));
      return;
    }
    const error = url.searchParams.get("error");
    const got = url.searchParams.get("code");
    res
      .writeHead(error || !got ? 400 : 200, { "content-type": "text/html" })
      .end(
        page(
          error || !got
            ? "Sign-in refused; see the terminal."
            : "Signed in. You can close this window.",
        ),
      );
    if (error || !got)
      settle?.reject(new Error(`the sign-in was not allowed (${error ?? "no code"})`));
    else settle?.resolve(got);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const timer = setTimeout(
    () => settle?.reject(new Error("the sign-in was not completed in time")),
    timeoutMs,
  );
  const close = () => {
    clearTimeout(timer);
    server.close();
    server.closeAllConnections();
  };
  return {
    redirectUri: `http://127.0.0.1:${String(port)}/oauth/callback`,
    code: code.finally(close),
  };
}
