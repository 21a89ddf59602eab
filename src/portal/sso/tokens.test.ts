import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sealSession } from "../session-cookie.ts";
import { newUserCode, normalizeUserCode, open, seal, ssoTokenKey } from "./tokens.ts";

describe("sealed SSO tokens", () => {
  const sessionKey = randomBytes(32);
  const key = ssoTokenKey(sessionKey);
  const access = { clientId: "c", userName: "alice", grantId: "g", expiresAt: 1 };

  it("opens what it sealed", () => {
    expect(open("access", seal("access", access, key), key)).toEqual(access);
  });
  it("refuses a refresh token presented as an access token (kinds do not mix)", () => {
    expect(open("access", seal("refresh", access, key), key)).toBeUndefined();
  });
  it("refuses a token sealed with another instance's key", () => {
    expect(open("access", seal("access", access, ssoTokenKey(randomBytes(32))), key)).toBe(
      undefined,
    );
  });
  it("refuses a session cookie presented as a token (a different key)", () => {
    const cookie = sealSession(
      { userName: "alice", epoch: 1, issuedAt: 0, lastSeen: 0, csrf: "x" },
      [{ id: "k", key: sessionKey }],
    );
    expect(open("access", cookie, key)).toBeUndefined();
  });
  it("refuses a tampered token", () => {
    const token = seal("access", access, key);
    const flipped = `${token.slice(0, 20)}${token[20] === "A" ? "B" : "A"}${token.slice(21)}`;
    expect(open("access", flipped, key)).toBeUndefined();
    expect(open("access", "not a token!", key)).toBeUndefined();
  });
});

describe("user codes", () => {
  it("are 8 letters in two groups, without vowels", () => {
    for (let i = 0; i < 50; i++)
      expect(newUserCode()).toMatch(/^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/);
  });
  it("are read back whatever the case, spaces or dashes", () => {
    expect(normalizeUserCode(" bcdf ghjk ")).toBe("BCDF-GHJK");
    expect(normalizeUserCode("BCDFGHJK")).toBe("BCDF-GHJK");
    expect(normalizeUserCode("BCDF-GHJ")).toBeUndefined();
    expect(normalizeUserCode("AEIO-UBCD")).toBeUndefined();
  });
});
