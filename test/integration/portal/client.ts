import type { buildPortalApp } from "../../../src/portal/app.ts";

type App = ReturnType<typeof buildPortalApp>;

/**
 * A tiny browser for the portal: keeps the session cookie, reads CSRF tokens from pages, and
 * sends every request from one source address (as the TCP peer the portal sees).
 */
export class Client {
  cookie = "";
  private readonly app: App;
  private readonly remoteAddress: string;
  private readonly headers: Record<string, string>;
  constructor(app: App, remoteAddress = "127.0.0.1", headers: Record<string, string> = {}) {
    this.app = app;
    this.remoteAddress = remoteAddress;
    this.headers = headers;
  }
  async request(
    method: "GET" | "POST",
    url: string,
    form?: Record<string, string>,
    headers: Record<string, string> = {},
  ) {
    const res = await this.app.inject({
      method,
      url,
      remoteAddress: this.remoteAddress,
      headers: {
        cookie: this.cookie,
        ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
        ...this.headers,
        ...headers,
      },
      ...(form ? { payload: new URLSearchParams(form).toString() } : {}),
    });
    const set = res.headers["set-cookie"];
    const first = Array.isArray(set) ? set[0] : set;
    if (first) this.cookie = first.split(";")[0] ?? "";
    return res;
  }
  /** Another browser that has a copy of this one's cookie (a stolen or replayed session). */
  copy(remoteAddress = this.remoteAddress): Client {
    const other = new Client(this.app, remoteAddress, this.headers);
    other.cookie = this.cookie;
    return other;
  }
  /** Takes the other browser's cookie, as someone who copied it. */
  copyFrom(other: Client): this {
    this.cookie = other.cookie;
    return this;
  }
  static csrf(html: string): string {
    return /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
  }
  static alert(html: string): string | undefined {
    return /role="alert">([^<]*)/.exec(html)?.[1];
  }
}
