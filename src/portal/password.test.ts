import { scryptSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  hashPassword,
  needsRehash,
  passwordProblem,
  verifyAgainstDummy,
  verifyPassword,
} from "./password.ts";

/** A record as the portal wrote them before Argon2id (scrypt, N=2^14 to keep the test quick). */
function legacyScrypt(password: string): string {
  const salt = Buffer.from("0123456789abcdef");
  const key = scryptSync(password.normalize("NFKC"), salt, 32, { N: 2 ** 14, r: 8, p: 1 });
  return ["scrypt", 2 ** 14, 8, 1, salt.toString("base64"), key.toString("base64")].join("$");
}

// The strength dictionaries take seconds to index on first use: more than the default timeout
// on a busy machine.
describe("password hashing", { timeout: 60_000 }, () => {
  it("hashes with Argon2id at OWASP's minimum and verifies only the right password", async () => {
    const stored = await hashPassword("correct horse battery staple");
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await verifyPassword("correct horse battery staple", stored)).toBe(true);
    expect(await verifyPassword("correct horse battery stapl", stored)).toBe(false);
    expect(await verifyPassword("", stored)).toBe(false);
  });

  it("salts every hash", async () => {
    expect(await hashPassword("same password here")).not.toBe(
      await hashPassword("same password here"),
    );
  });

  it("checks a dummy hash of the given cost for names without a password, and never matches", async () => {
    expect(await verifyAgainstDummy("anything at all")).toBe(false);
    expect(
      await verifyAgainstDummy("anything at all", {
        memoryKiB: 7168,
        iterations: 5,
        parallelism: 1,
      }),
    ).toBe(false);
  });

  it("treats two Unicode forms of one password as the same password", async () => {
    const stored = await hashPassword("caf\u00e9 au lait please");
    expect(await verifyPassword("cafe\u0301 au lait please", stored)).toBe(true);
  });

  it("still verifies records written with scrypt, and marks them for rehashing", async () => {
    const stored = legacyScrypt("an older password");
    expect(await verifyPassword("an older password", stored)).toBe(true);
    expect(await verifyPassword("another password", stored)).toBe(false);
    expect(needsRehash(stored)).toBe(true);
  });

  it("marks Argon2id hashes of another cost for rehashing, not those of the current one", async () => {
    const current = await hashPassword("current cost here");
    expect(needsRehash(current)).toBe(false);
    const cheaper = await hashPassword("older cost here", {
      memoryKiB: 12288,
      iterations: 3,
      parallelism: 1,
    });
    expect(needsRehash(cheaper)).toBe(true);
    expect(needsRehash(cheaper, { memoryKiB: 12288, iterations: 3, parallelism: 1 })).toBe(false);
  });

  it.each(["plain$text", "$argon2id$v=19$m=19456,t=2,p=1$broken", "scrypt$x$y", ""])(
    "refuses the malformed stored hash %j",
    async (stored) => {
      expect(await verifyPassword("anything at all", stored)).toBe(false);
    },
  );

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
