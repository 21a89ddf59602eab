import { describe, expect, it } from "vitest";
import { slimObject, StringPool } from "./slim-object.ts";

describe("slimObject", () => {
  it("shares repeated condition strings between objects parsed apart", () => {
    const parse = () =>
      slimObject(
        JSON.parse(
          JSON.stringify({
            apiVersion: "identitycenter.dev/v1alpha1",
            kind: "User",
            metadata: { name: "u" },
            status: {
              conditions: [{ type: "Ready", status: "True", reason: "Valid", message: "ok" }],
            },
          }),
        ) as { apiVersion: string; metadata: { name: string }; status: { conditions: unknown[] } },
      );
    const a = parse();
    const b = parse();
    expect(b).toEqual(a);
    expect(b.status.conditions[0]).toEqual({
      type: "Ready",
      status: "True",
      reason: "Valid",
      message: "ok",
    });
  });
});

describe("StringPool", () => {
  it("stops adding strings once full, so strings of deleted objects cannot pile up", () => {
    const pool = new StringPool(2);
    pool.intern("a");
    pool.intern("b");
    expect(pool.intern("c")).toBe("c");
    expect(pool.size).toBe(2);
    expect(pool.intern("a")).toBe("a");
  });
});
