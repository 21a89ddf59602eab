import { describe, expect, it } from "vitest";
import { freshSession } from "./session.ts";
import { checkCsrf } from "./csrf.ts";

const session = freshSession("alice", 0, 0);

describe("checkCsrf", () => {
  it("accepts the form that carries its session's token", () => {
    expect(() => checkCsrf(session, { csrf: session.csrf })).not.toThrow();
  });

  it.each([
    ["no session (a cross-site POST carries no SameSite=Lax cookie)", undefined, session.csrf],
    ["no token", session, undefined],
    ["an empty token against a session", session, ""],
    ["a token of another length", session, `${session.csrf}x`],
    ["a guess of the right length", session, "A".repeat(session.csrf.length)],
  ])("refuses %s with a 403", (_name, s, csrf) => {
    expect(() => checkCsrf(s, { csrf })).toThrow(expect.objectContaining({ statusCode: 403 }));
  });
});
