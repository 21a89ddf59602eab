import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Eta } from "eta";
import type { FastifyReply } from "fastify";
import fp from "fastify-plugin";
import type { Application } from "../../api/v1alpha1/index.ts";
import type { AccountAccess } from "../access.ts";

/** The .eta templates and the stylesheet (copied next to the compiled code by `npm run build`). */
export const VIEWS_DIR = fileURLToPath(new URL("../views/", import.meta.url));

/** The signed-in user as the page header shows them, with the CSRF token of "Sign out". */
export interface PageUser {
  name: string;
  csrf: string;
}

/** Each template and the data it reads (`it` in the template). */
export interface Pages {
  login: { csrf: string; error?: string };
  otp: { csrf: string; error?: string };
  setup: {
    token: string;
    csrf: string;
    userName: string;
    error?: string;
    totp?: { secret: string; uri: string; qrSvg: string };
  };
  portal: {
    user: PageUser;
    query: string;
    accounts: AccountAccess[];
    applications: Application[];
  };
  application: { user: PageUser; application: Application };
  /**
   * The answer to an unsigned SP-initiated sign-in: which application asks, and one button that
   * posts the request (`fields`) back with the session's CSRF token. It never submits itself.
   */
  "confirm-sign-in": {
    user: PageUser;
    application: Application;
    fields: Record<string, string>;
  };
  "auto-post": { action: string; fields: Record<string, string>; target: string };
  credentials: {
    user: PageUser;
    credentials: {
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken: string;
      expiration: string;
    };
    profile: string;
  };
  error: { status: number; message: string };
  /** Sign-in with an upstream identity provider: one button, no password. */
  "upstream-login": { displayName: string; startPath: string; error?: string };
  /** Why an upstream sign-in was not accepted. */
  "upstream-refused": { status: number; message: string };
  /** SSO device authorization: asks for the code the terminal shows (plain verification URL). */
  "device-code": { user: PageUser; error?: string };
  /** SSO device authorization: the code to compare with the terminal's, and who asks. */
  "device-approval": {
    user: PageUser;
    userCode: string;
    clientName: string | undefined;
    ticket: string | undefined;
  };
  "device-done": { user: PageUser; allowed: boolean };
  /** SSO authorization code (PKCE): the consent page; `fields` are the request's, posted back. */
  authorize: {
    user: PageUser;
    clientName: string;
    redirectHost: string;
    fields: Record<string, string>;
  };
}

declare module "fastify" {
  interface FastifyReply {
    /** Renders a page (HTML-escaping every value the template prints) and sends it. */
    page<K extends keyof Pages>(name: K, data: Pages[K]): FastifyReply;
  }
}

/**
 * HTML pages from Eta templates. Eta escapes every `<%= %>` value; the one raw insertion
 * (`<%~ %>`) is the QR code's SVG, which qrcode-generator makes.
 *
 * Every template is read and compiled once, at start, under its name with Eta's `@` (the
 * templates name their layout `@layout`): rendering a page is then one call of the compiled
 * function. Through @fastify/view each page also reconfigured the engine and resolved the page
 * and its layout to file paths again, more than the template itself cost.
 */
export const views = fp(
  async (app) => {
    const eta = new Eta({ views: VIEWS_DIR, autoEscape: true, cache: true });
    for (const file of await readdir(VIEWS_DIR)) {
      if (!file.endsWith(".eta")) continue;
      eta.loadTemplate(`@${file.slice(0, -4)}`, await readFile(path.join(VIEWS_DIR, file), "utf8"));
    }
    // The one stylesheet, from the portal's own origin: pages need no inline style (CSP).
    const css = await readFile(path.join(VIEWS_DIR, "portal.css"), "utf8");
    app.get("/portal.css", (_req, reply) => reply.type("text/css; charset=utf-8").send(css));
    app.decorateReply(
      "page",
      function (this: FastifyReply, name: keyof Pages, data: Pages[keyof Pages]) {
        const html = eta.render(`@${name}`, { ...data, nonce: this.cspNonce });
        return this.type("text/html; charset=utf-8").send(html);
      },
    );
  },
  { name: "portal-views", fastify: "5.x", dependencies: ["portal-security-headers"] },
);
