import { defineConfig } from "vitest/config";

// Unit tests: pure logic, beside the code, no processes, no network.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
    // The JSON report lets .ci/run print one "N passed, N failed" line for the whole run.
    reporters: ["default", ["json", { outputFile: ".test-results/unit.json" }]],
  },
});
