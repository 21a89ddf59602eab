import { KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createStores } from "./adapters/k8s/stores.ts";
import type { OperatorContext } from "./controllers/context.ts";
import { OperatorMetrics } from "./observability/metrics.ts";
import { createControllers } from "./operator.ts";

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
    const ctx = {
      ...createStores(kubeConfig, log),
      log,
      metrics: new OperatorMetrics({ processMetrics: false }),
      portal: undefined,
    } as Partial<OperatorContext> as OperatorContext;
    const controllers = createControllers(ctx, { workers: 3, accountWorkers: 7 });
    expect(Object.fromEntries(controllers.map((c) => [c.name, c.workerCount]))).toEqual({
      identitycenter: 3,
      user: 3,
      group: 3,
      account: 7,
      permissionset: 3,
      accountassignment: 3,
      application: 3,
      applicationassignment: 3,
    });
  });
});
