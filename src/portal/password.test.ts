import { describe, expect, it } from "vitest";
import { hashPassword, passwordProblem, verifyAgainstDummy, verifyPassword } from "./password.ts";

// scrypt at OWASP's cost takes ~0.5 s of a core, and the strength dictionaries take seconds to
// index on first use: more than the default timeout on a busy machine.
describe("password hashing", { timeout: 60_000 }, () => {
  it("verifies the right password and refuses others", async () => {
    const stored = await hashPassword("correct horse battery staple");
    expect(stored).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(await verifyPassword("correct horse battery staple", stored)).toBe(true);
    expect(await verifyPassword("correct horse battery stapl", stored)).toBe(false);
    expect(await verifyPassword("", stored)).toBe(false);
  });

  it("salts every hash", async () => {
    expect(await hashPassword("same password here")).not.toBe(
      await hashPassword("same password here"),
    );
  });

  it("checks a dummy hash for names without a password, and never matches", async () => {
    expect(await verifyAgainstDummy("anything at all")).toBe(false);
  });

  it("refuses a malformed stored hash", async () => {
    expect(await verifyPassword("anything at all", "plain$text")).toBe(false);
  });

  it.each([
    { password: "short", problem: /at least 12/ },
    { password: "x".repeat(257), problem: /at most 256/ },
    { password: "ünïcödé pässwörd", problem: undefined },
    { password: "a long enough passphrase", problem: undefined },
    { password: "password1234", problem: /common/ },
    { password: "qwertyuiopasdfgh", problem: /common/ },
    { password: "aaaaaaaaaaaaaaaa", problem: /repeat/ },
    { password: "alice@example.com", problem: /personal/ },
  ])("refuses $password when it is too short, too long or guessable", ({ password, problem }) => {
    const result = passwordProblem(password, ["alice", "alice@example.com"]);
    if (problem) expect(result).toMatch(problem);
    else expect(result).toBeUndefined();
  });
});
