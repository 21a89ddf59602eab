import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { freePort } from "./ports.ts";
import { repoRoot } from "./paths.ts";

export interface ControllerProcess {
  readonly identity: string;
  readonly healthUrl: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  metric(name: string): Promise<number | undefined>;
  ready(): Promise<boolean>;
}

/**
 * Runs `idc controller` from source as a real process (Node 24, the same entry point users run)
 * against a test environment's kubeconfig. Output goes to `<workDir>/controller-<identity>.log`.
 */
export async function startControllerProcess(options: {
  kubeconfig: string;
  workDir: string;
  identity: string;
  namespace: string;
  args?: string[];
  /** The CLI to run: src/cli.ts by default; benchmarks use the compiled dist/cli.js. */
  entry?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<ControllerProcess> {
  const port = await freePort();
  const log = createWriteStream(path.join(options.workDir, `controller-${options.identity}.log`), {
    flags: "a",
  });
  const child = spawn(
    process.execPath,
    [
      options.entry ?? path.join(repoRoot, "src/cli.ts"),
      "controller",
      `--kubeconfig=${options.kubeconfig}`,
      `--namespace=${options.namespace}`,
      `--health-addr=127.0.0.1:${String(port)}`,
      `--identity=${options.identity}`,
      "--log-level=debug",
      ...(options.args ?? []),
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...options.env } },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  // Never leave a controller behind, even when a test fails.
  process.once("exit", () => child.kill("SIGKILL"));
  const healthUrl = `http://127.0.0.1:${String(port)}`;
  return {
    identity: options.identity,
    healthUrl,
    child,
    exited,
    kill: (signal) => child.kill(signal),
    async metric(name) {
      const text = await fetch(`${healthUrl}/metrics`).then(
        (r) => r.text(),
        () => "",
      );
      const line = text
        .split("\n")
        .find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
      return line === undefined ? undefined : Number(line.split(" ").at(-1));
    },
    async ready() {
      return fetch(`${healthUrl}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
    },
  };
}

/** Environment for a controller that works as the management identity against moto. */
export function motoControllerEnv(
  credentials: { accessKeyId: string; secretAccessKey: string },
  endpoint: string,
): NodeJS.ProcessEnv {
  return {
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_REGION: "us-east-1",
    IDC_AWS_ENDPOINT: endpoint,
  };
}
