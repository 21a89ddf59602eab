import { describe, expect, it } from "vitest";
import { hashPassword, passwordProblem, verifyPassword } from "./password.ts";

describe("password hashing", () => {
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

  it("refuses a malformed stored hash", async () => {
    expect(await verifyPassword("anything at all", "plain$text")).toBe(false);
  });

  it.each([
    { password: "short", problem: /at least 12/ },
    { password: "x".repeat(257), problem: /at most 256/ },
    { password: "twelve chars", problem: undefined },
    { password: "ünïcödé pässwörd", problem: undefined },
  ])("length rule for $password.length characters", ({ password, problem }) => {
    const result = passwordProblem(password);
    if (problem) expect(result).toMatch(problem);
    else expect(result).toBeUndefined();
  });
});
