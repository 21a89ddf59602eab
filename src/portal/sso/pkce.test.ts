import { describe, expect, it } from "vitest";
import { s256Challenge, verifierMatches } from "./pkce.ts";

describe("PKCE S256", () => {
  // RFC 7636, Appendix B.
  const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

  it("computes the RFC's challenge", () => {
    expect(s256Challenge(verifier)).toBe(challenge);
  });
  it("accepts the right verifier only", () => {
    expect(verifierMatches(verifier, challenge)).toBe(true);
    expect(verifierMatches(`${verifier.slice(0, -1)}A`, challenge)).toBe(false);
  });
  it("refuses a verifier that is too short to resist guessing", () => {
    expect(verifierMatches("abc", s256Challenge("abc"))).toBe(false);
  });
});
