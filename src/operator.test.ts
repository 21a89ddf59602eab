import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { OperatorMetrics } from "./observability/metrics.ts";
import { createControllers, createOperatorContext, type ControllerConfig } from "./operator.ts";

describe("createControllers", () => {
  it("gives every controller --workers reconciles at once, and the Account controller --account-workers", () => {
    // Building controllers only registers handlers on the caches: nothing is listed or called.
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: "none", server: "https://127.0.0.1:1" }],
      users: [{ name: "none" }],
      contexts: [{ name: "none", cluster: "none", user: "none" }],
      currentContext: "none",
    });
    const log = pino({ level: "silent" });
    const config: ControllerConfig = {
      namespace: "idc",
      workers: 3,
      accountWorkers: 7,
      awsConcurrencyPerAccount: 4,
      resyncMs: 600_000,
      leaderElect: false,
      leaseName: "idc",
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      healthAddress: undefined,
      awsRegion: "us-east-1",
      awsEndpoint: undefined,
      awsConnectTimeoutMs: 5_000,
      awsRequestTimeoutMs: 15_000,
      portalWorkload: true,
      portalImage: undefined,
      credentialsNamespace: "idc-credentials",
    };
    const metrics = new OperatorMetrics({ processMetrics: false });
    const ctx = createOperatorContext(kubeConfig, config, log, metrics);
    const controllers = createControllers(ctx, config);
    expect(Object.fromEntries(controllers.map((c) => [c.name, c.workerCount]))).toEqual({
      identitycenter: 3,
      user: 3,
      credentials: 3,
      group: 3,
      account: 7,
      permissionset: 3,
      accountassignment: 3,
      application: 3,
      applicationassignment: 3,
    });
  });
});
