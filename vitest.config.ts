import { defineConfig } from "vitest/config";

// Unit tests: pure logic, beside the code, no processes, no network.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
