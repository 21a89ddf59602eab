import { describe, expect, it } from "vitest";
import { FakeClock } from "./clock.ts";
import type { Condition } from "./conditions.ts";
import { accountRowsPacer, reportNow, StatusPacer, type PacedStatus } from "./status-pacer.ts";

const ready = (status: Condition["status"], reason: string, message = "m"): Condition => ({
  type: "Ready",
  status,
  reason,
  message,
  lastTransitionTime: "2026-01-01T00:00:00Z",
});

describe("reportNow", () => {
  const pending: PacedStatus = { observedGeneration: 1, conditions: [ready("False", "Pending")] };
  it.each([
    { name: "the first status", before: undefined, after: pending, expected: true },
    {
      name: "a new generation",
      before: pending,
      after: { ...pending, observedGeneration: 2 },
      expected: true,
    },
    {
      name: "Ready turns True",
      before: pending,
      after: { observedGeneration: 1, conditions: [ready("True", "Provisioned")] },
      expected: true,
    },
    {
      name: "a new reason with the same status (a failure while others wait)",
      before: pending,
      after: { observedGeneration: 1, conditions: [ready("False", "ProvisioningFailed")] },
      expected: true,
    },
    {
      name: "only the message (one account fewer to wait for)",
      before: pending,
      after: { observedGeneration: 1, conditions: [ready("False", "Pending", "other")] },
      expected: false,
    },
    { name: "nothing in the conditions", before: pending, after: pending, expected: false },
  ])("$name: $expected", ({ before, after, expected }) => {
    expect(reportNow(before, after)).toBe(expected);
  });
});

describe("StatusPacer", () => {
  it("lets the first write through and spaces the next by its rows", () => {
    const clock = new FakeClock();
    const pacer = new StatusPacer({ msPerRow: 100, maxIntervalMs: 30_000, clock });
    expect(pacer.delay("ps", 250)).toBe(0);
    pacer.wrote("ps");
    clock.advance(1_000);
    expect(pacer.delay("ps", 3)).toBe(0);
    expect(pacer.delay("ps", 50)).toBe(4_000);
    expect(pacer.delay("ps", 250)).toBe(24_000);
    expect(pacer.delay("ps", 10_000)).toBe(29_000);
    expect(pacer.delay("other", 250)).toBe(0);
  });

  it("counts from the last write, and forgets a deleted object", () => {
    const clock = new FakeClock();
    const pacer = accountRowsPacer(clock);
    pacer.wrote("ps");
    clock.advance(10_000);
    pacer.wrote("ps");
    clock.advance(5_000);
    expect(pacer.delay("ps", 250)).toBe(20_000);
    pacer.forget("ps");
    expect(pacer.delay("ps", 250)).toBe(0);
  });
});
