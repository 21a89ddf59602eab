import { describe, expect, it } from "vitest";
import { setCondition, type Condition } from "./conditions.ts";

const t0 = new Date("2026-01-01T00:00:00Z");
const t1 = new Date("2026-01-01T01:00:00Z");

describe("setCondition", () => {
  const ready: Condition = {
    type: "Ready",
    status: "True",
    reason: "Valid",
    message: "ok",
    observedGeneration: 1,
    lastTransitionTime: t0.toISOString(),
  };

  it.each([
    {
      name: "adds a new condition stamped with generation and time",
      before: [],
      input: { type: "Ready", status: "True", reason: "Valid", message: "ok" },
      expected: [{ ...ready }],
      generation: 1,
      now: t0,
    },
    {
      name: "keeps lastTransitionTime when status is unchanged, updates the rest",
      before: [ready],
      input: { type: "Ready", status: "True", reason: "StillValid", message: "still ok" },
      expected: [{ ...ready, reason: "StillValid", message: "still ok", observedGeneration: 2 }],
      generation: 2,
      now: t1,
    },
    {
      name: "moves lastTransitionTime when status changes",
      before: [ready],
      input: { type: "Ready", status: "False", reason: "Duplicate", message: "clash" },
      expected: [
        {
          type: "Ready",
          status: "False",
          reason: "Duplicate",
          message: "clash",
          observedGeneration: 3,
          lastTransitionTime: t1.toISOString(),
        },
      ],
      generation: 3,
      now: t1,
    },
  ] as const)("$name", ({ before, input, expected, generation, now }) => {
    expect(setCondition(before, input, generation, now)).toEqual(expected);
  });

  it("leaves other conditions in place and does not mutate its input", () => {
    const other: Condition = { ...ready, type: "Synced" };
    const before = [other, ready];
    const after = setCondition(
      before,
      { type: "Ready", status: "False", reason: "X", message: "" },
      1,
      t1,
    );
    expect(after.map((c) => c.type)).toEqual(["Synced", "Ready"]);
    expect(before[1]).toBe(ready);
  });
});
