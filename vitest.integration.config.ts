import { defineConfig } from "vitest/config";

// Integration tests: each test file starts its own real kube-apiserver + etcd and moto on free
// loopback ports (see test/harness). Most files spend their time waiting (leases running out, API
// servers restarting, controllers converging): measured, the leader election and API server
// restart files use about a quarter of a core each, so three run side by side on a 2-core
// machine. IDC_TEST_WORKERS overrides it.
export default defineConfig({
  test: {
    include: ["test/integration/**/*.test.ts"],
    environment: "node",
    // The JSON report lets .ci/run print one "N passed, N failed" line for the whole run.
    reporters: ["default", ["json", { outputFile: ".test-results/integration.json" }]],
    globalSetup: ["test/harness/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    maxWorkers: Number(process.env.IDC_TEST_WORKERS ?? 3),
    pool: "forks",
  },
});
