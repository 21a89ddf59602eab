import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import { KubeEventRecorder } from "./adapters/k8s/events.ts";
import { createIdentityStore, type OperatorContext } from "./controllers/context.ts";
import { createGroupController } from "./controllers/group/controller.ts";
import { createUserController } from "./controllers/user/controller.ts";
import type { Logger } from "./observability/logger.ts";
import { OperatorMetrics } from "./observability/metrics.ts";
import { Manager } from "./runtime/manager.ts";

export interface ControllerConfig {
  namespace: string;
  workers: number;
  leaderElect: boolean;
  leaseName: string;
  healthAddress: { host: string; port: number } | undefined;
  identity?: string;
}

/** Wires the operator's caches and controllers into a manager. */
export function createOperator(
  kubeConfig: KubeConfig,
  config: ControllerConfig,
  log: Logger,
  onFatal: (reason: string) => void,
): Manager {
  const metrics = new OperatorMetrics();
  const identity = config.identity ?? `${hostname()}_${String(process.pid)}`;
  const store = createIdentityStore(kubeConfig, log);
  const ctx: OperatorContext = {
    kubeConfig,
    log,
    metrics,
    now: () => new Date(),
    events: new KubeEventRecorder(kubeConfig, {
      namespace: config.namespace,
      controller: "identitycenter.dev/controller",
      instance: identity,
      log,
    }),
    ...store,
  };
  const controllers = [
    createUserController(ctx, config.workers),
    createGroupController(ctx, config.workers),
  ];
  return new Manager({
    kubeConfig,
    log,
    metrics,
    informers: [store.users.informer, store.groups.informer],
    controllers,
    ...(config.healthAddress ? { healthAddress: config.healthAddress } : {}),
    ...(config.leaderElect
      ? { leaderElection: { namespace: config.namespace, name: config.leaseName, identity } }
      : {}),
    onFatal,
  });
}
