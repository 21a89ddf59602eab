import { afterAll, beforeAll } from "vitest";
import { startControllerProcess, type ControllerProcess } from "./controller-process.ts";
import type { TestEnvironment } from "./environment.ts";
import { createNamespace } from "./k8s.ts";
import { waitFor } from "./wait.ts";

export const OPERATOR_NAMESPACE = "identity-center-operator";

/**
 * Creates the operator namespace and runs `idc controller` for a test file, started after the
 * file's earlier hooks and stopped with SIGTERM after its tests. Returns a getter.
 */
export function useControllerProcess(
  env: () => TestEnvironment,
  options: { identity: string; args?: string[] },
): () => ControllerProcess {
  let controller: ControllerProcess | undefined;
  beforeAll(async () => {
    await createNamespace(env().kubeConfig(), OPERATOR_NAMESPACE);
    const started = await startControllerProcess({
      kubeconfig: env().kubeconfigPath,
      workDir: env().workDir,
      identity: options.identity,
      namespace: OPERATOR_NAMESPACE,
      ...(options.args ? { args: options.args } : {}),
    });
    controller = started;
    await waitFor("the controller to be ready", () => started.ready());
  });
  afterAll(async () => {
    controller?.kill("SIGTERM");
    await controller?.exited;
  });
  return () => {
    if (!controller) throw new Error("the controller did not start");
    return controller;
  };
}
