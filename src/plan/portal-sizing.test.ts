import { describe, expect, it } from "vitest";
import { hashConcurrencyFor, hashJobMiB, portalMemoryMiB } from "./portal-sizing.ts";

describe("portal sizing", () => {
  it("sizes a pod's memory for the checks it runs at once, and back", () => {
    expect(hashJobMiB(19456)).toBe(24);
    const limit = portalMemoryMiB(4, 19456);
    expect(limit).toBe(256 + 4 * 24);
    expect(hashConcurrencyFor(limit * 2 ** 20, 19456, 8)).toBe(4);
  });

  it.each([
    { limitMiB: 512, cpus: 2, expected: 4, why: "two per CPU at most" },
    { limitMiB: 512, cpus: 16, expected: 10, why: "what the memory holds" },
    { limitMiB: 128, cpus: 4, expected: 1, why: "always at least one" },
  ])("$limitMiB MiB and $cpus CPUs: $expected ($why)", ({ limitMiB, cpus, expected }) => {
    expect(hashConcurrencyFor(limitMiB * 2 ** 20, 19456, cpus)).toBe(expected);
  });

  it("without a memory limit, one check per CPU", () => {
    expect(hashConcurrencyFor(undefined, 19456, 3)).toBe(3);
  });
});
