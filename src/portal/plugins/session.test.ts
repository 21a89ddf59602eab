import { describe, expect, it } from "vitest";
import { newRecord, sessionRecordOf, type SessionRecord } from "../../identity/credentials.ts";
import { user } from "../../testing/gen.ts";
import { fakePortal, identityCenter } from "../fake-portal.ts";
import { sealSession } from "../session-cookie.ts";
import { resolveSignedIn, sessions, signedInSession } from "./session.ts";

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

describe("the session check of a signed-in request (docs/adr/0021)", () => {
  const NOW = Date.UTC(2026, 11, 1, 9);
  /** A fake portal whose session cache answers what the test puts in `cached`. */
  function checkedApp() {
    const cached = new Map<string, SessionRecord>();
    let synced = true;
    const portal = fakePortal({
      now: () => new Date(NOW),
      sessionRecords: {
        lookup: (userName) => (synced ? { record: cached.get(userName) } : undefined),
      },
    });
    portal.addInstance(identityCenter());
    portal.addUser(user("alice"));
    const stored = {
      ...newRecord("alice", "uid-alice"),
      sessions: [{ id: "s1", expiresAt: NOW + 3600_000 }],
    };
    portal.records.set("alice", stored);
    let reads = 0;
    const backend = portal.deps.credentials;
    const get = backend.get.bind(backend);
    backend.get = (name) => {
      reads++;
      return get(name);
    };
    const app = portal.app();
    void app.register(sessions);
    app.get("/me", { preHandler: resolveSignedIn }, (req) => ({
      user: req.signedIn?.user.spec.userName ?? null,
    }));
    const session = signedInSession(
      { userName: "alice", uid: "uid-alice", epoch: 1, id: "s1", method: "password" },
      NOW,
    );
    const cookie = `idc_session=${sealSession(session, portal.context.sessionKeys())}`;
    const me = async () =>
      (await app.inject({ url: "/me", headers: { cookie } })).json<{ user: string | null }>().user;
    return {
      portal,
      cached,
      stored,
      me,
      reads: () => reads,
      unsync: () => {
        synced = false;
      },
    };
  }

  it("answers from the cache when it lists the session: no read of the record", async () => {
    const t = checkedApp();
    t.cached.set("alice", sessionRecordOf(t.stored));
    expect([await t.me(), await t.me(), t.reads()]).toEqual(["alice", "alice", 0]);
  });

  it("confirms a refusal of the cache with a read (a sign-in on another replica, not in the cache yet)", async () => {
    const t = checkedApp();
    expect([await t.me(), t.reads()]).toEqual(["alice", 1]);
    // The cache's record of an older epoch says no too: the read says yes.
    t.cached.set("alice", { ...sessionRecordOf(t.stored), sessionEpoch: 0 });
    expect([await t.me(), t.reads()]).toEqual(["alice", 2]);
  });

  it("refuses a session the read does not list either (reusing a cookie after sign-out)", async () => {
    const t = checkedApp();
    t.portal.records.set("alice", { ...t.stored, sessions: [] });
    t.cached.set("alice", { ...sessionRecordOf(t.stored), sessions: [] });
    expect([await t.me(), t.reads()]).toEqual([null, 1]);
  });

  it("refuses a cached session of an earlier User of the same userName, after a read (a recreated User)", async () => {
    const t = checkedApp();
    t.cached.set("alice", { ...sessionRecordOf(t.stored), userUid: "uid-earlier-alice" });
    t.portal.records.set("alice", { ...t.stored, userUid: "uid-earlier-alice" });
    expect([await t.me(), t.reads()]).toEqual([null, 1]);
  });

  it("reads the record on every check while the cache has not synced", async () => {
    const t = checkedApp();
    t.cached.set("alice", sessionRecordOf(t.stored));
    t.unsync();
    expect([await t.me(), await t.me(), t.reads()]).toEqual(["alice", "alice", 2]);
  });

  it("refuses a deactivated user at once whatever the cache says (the User cache decides first)", async () => {
    const t = checkedApp();
    t.cached.set("alice", sessionRecordOf(t.stored));
    t.portal.addUser(user("alice", (u) => (u.spec.active = false)));
    expect([await t.me(), t.reads()]).toEqual([null, 0]);
  });
});
