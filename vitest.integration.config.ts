import { defineConfig } from "vitest/config";

// Integration tests: each test file starts its own real kube-apiserver + etcd and moto on free
// loopback ports (see test/harness). Files run two at a time (IDC_TEST_WORKERS overrides it): many
// of them wait on leases, restarts and convergence, but three at a time on a 2-core machine
// saved only about 10 % and made timing-bound tests flaky.
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
    maxWorkers: Number(process.env.IDC_TEST_WORKERS ?? 2),
    pool: "forks",
  },
});
