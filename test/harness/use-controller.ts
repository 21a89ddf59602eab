import { afterAll, beforeAll } from "vitest";
import { CHART_NAMESPACE, chartControllerKubeconfig } from "./chart.ts";
import { startControllerProcess, type ControllerProcess } from "./controller-process.ts";
import type { TestEnvironment } from "./environment.ts";
import { createOperatorNamespaces } from "./k8s.ts";
import { waitFor } from "./wait.ts";

export const OPERATOR_NAMESPACE = CHART_NAMESPACE;

/**
 * Creates the operator namespace and runs `idc controller` for a test file, started after the
 * file's earlier hooks and stopped with SIGTERM after its tests. Returns a getter.
 *
 * The controller runs as the Helm chart's ServiceAccount with exactly the chart's RBAC (unless
 * `asAdmin`), and the file fails if the API server refused it anything: a permission the chart
 * lacks shows up here rather than in a user's cluster.
 */
export function useControllerProcess(
  env: () => TestEnvironment,
  options: { identity: string; args?: string[]; env?: NodeJS.ProcessEnv; asAdmin?: boolean },
): () => ControllerProcess {
  let controller: ControllerProcess | undefined;
  beforeAll(async () => {
    await createOperatorNamespaces(env().kubeConfig(), OPERATOR_NAMESPACE);
    const started = await startControllerProcess({
      kubeconfig: options.asAdmin ? env().kubeconfigPath : await chartControllerKubeconfig(env()),
      workDir: env().workDir,
      identity: options.identity,
      namespace: OPERATOR_NAMESPACE,
      ...(options.args ? { args: options.args } : {}),
      ...(options.env ? { env: options.env } : {}),
    });
    controller = started;
    // Starting Node and syncing every informer takes seconds on an idle machine and much
    // longer on a busy one; the hook's own timeout still bounds it.
    await waitFor("the controller to be ready", () => started.ready(), 120_000);
  });
  afterAll(async () => {
    await controller?.stop("SIGTERM", env().apiServer.startingPeriods);
  });
  return () => {
    if (!controller) throw new Error("the controller did not start");
    return controller;
  };
}
