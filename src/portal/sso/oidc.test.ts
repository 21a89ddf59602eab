import { describe, expect, it } from "vitest";
import { redirectUriAllowed } from "./oidc.ts";
import { page } from "./portal-api.ts";

describe("redirect URIs", () => {
  const registered = ["http://127.0.0.1/oauth/callback"];
  it("accepts the registered loopback URI on any port (RFC 8252)", () => {
    expect(redirectUriAllowed(registered, "http://127.0.0.1:54321/oauth/callback")).toBe(true);
    expect(redirectUriAllowed(registered, "http://127.0.0.1/oauth/callback")).toBe(true);
  });
  it("refuses another path, host or scheme (codes sent elsewhere)", () => {
    expect(redirectUriAllowed(registered, "http://127.0.0.1:1/other")).toBe(false);
    expect(redirectUriAllowed(registered, "http://evil.example:1/oauth/callback")).toBe(false);
    expect(redirectUriAllowed(registered, "https://127.0.0.1:1/oauth/callback")).toBe(false);
    expect(redirectUriAllowed([], "http://127.0.0.1:1/oauth/callback")).toBe(false);
  });
  it("accepts a registered non-loopback URI only exactly", () => {
    const https = ["https://app.example.com/cb"];
    expect(redirectUriAllowed(https, "https://app.example.com/cb")).toBe(true);
    expect(redirectUriAllowed(https, "https://app.example.com:444/cb")).toBe(false);
  });
});

describe("list pagination", () => {
  const items = Array.from({ length: 250 }, (_, i) => i);
  it("walks every item once with next_token", () => {
    const seen: number[] = [];
    let next: string | undefined;
    do {
      const p = page(items, { max_result: "100", ...(next ? { next_token: next } : {}) });
      seen.push(...p.items);
      next = p.nextToken;
    } while (next);
    expect(seen).toEqual(items);
  });
  it("refuses max_result outside 1..100 and a forged token", () => {
    expect(() => page(items, { max_result: "0" })).toThrow(/max_result/);
    expect(() => page(items, { max_result: "101" })).toThrow(/max_result/);
    expect(() => page(items, { next_token: "garbage" })).toThrow(/next_token/);
  });
});
