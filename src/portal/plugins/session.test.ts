import { describe, expect, it } from "vitest";
import { fakePortal, identityCenter } from "../fake-portal.ts";
import { sessions } from "./session.ts";

function sessionApp(externalUrl = "http://127.0.0.1:8080") {
  const portal = fakePortal();
  portal.addInstance(identityCenter("default", externalUrl));
  const app = portal.app();
  void app.register(sessions);
  app.get("/start", (_req, reply) => reply.send({ csrf: reply.anonymousSession().csrf }));
  app.get("/read", (req) => ({ session: req.session ?? null }));
  app.get("/clear", (_req, reply) => {
    reply.writeSession(undefined);
    return reply.send("cleared");
  });
  return app;
}

const cookieOf = (header: unknown) => String(header).split(";")[0] ?? "";
/** A Set-Cookie header's attributes, whatever their order. */
const attributes = (header: unknown) => new Set(String(header).split("; ").slice(1));

describe("the sessions plugin", () => {
  it("seals a session into the cookie and opens it on the next request", async () => {
    const app = sessionApp();
    const start = await app.inject({ url: "/start" });
    const { csrf } = start.json<{ csrf: string }>();
    expect(String(start.headers["set-cookie"])).toMatch(
      /^idc_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/,
    );
    const read = await app.inject({
      url: "/read",
      headers: { cookie: cookieOf(start.headers["set-cookie"]) },
    });
    expect(read.json()).toMatchObject({ session: { userName: "", csrf } });
  });

  it("keeps the anonymous session it already has instead of writing a new one", async () => {
    const app = sessionApp();
    const start = await app.inject({ url: "/start" });
    const again = await app.inject({
      url: "/start",
      headers: { cookie: cookieOf(start.headers["set-cookie"]) },
    });
    expect(again.headers["set-cookie"]).toBeUndefined();
    expect(again.json()).toEqual(start.json());
  });

  it("ignores a tampered cookie (reads no session from it)", async () => {
    const app = sessionApp();
    const start = await app.inject({ url: "/start" });
    const cookie = cookieOf(start.headers["set-cookie"]);
    const flipped = cookie.slice(0, -2) + (cookie.endsWith("A") ? "B" : "A") + cookie.slice(-1);
    const read = await app.inject({ url: "/read", headers: { cookie: flipped } });
    expect(read.json()).toEqual({ session: null });
  });

  it("names the cookie __Host- and marks it Secure over https, and clears it", async () => {
    const app = sessionApp("https://sso.example.com");
    const start = await app.inject({ url: "/start" });
    expect(attributes(start.headers["set-cookie"])).toEqual(
      new Set(["Path=/", "HttpOnly", "SameSite=Lax", "Secure"]),
    );
    expect(String(start.headers["set-cookie"])).toMatch(/^__Host-idc_session=[^;]+;/);
    const cleared = await app.inject({ url: "/clear" });
    expect(String(cleared.headers["set-cookie"])).toMatch(
      /^__Host-idc_session=; .*Expires=Thu, 01 Jan 1970 00:00:00 GMT/,
    );
  });
});
