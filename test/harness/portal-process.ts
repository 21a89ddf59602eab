import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { spawnCli } from "./cli-process.ts";
import { assertNoForbiddenRequests } from "./controller-process.ts";

export interface PortalProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM, wait for the exit, then fail if the API server refused the portal anything. */
  stop(): Promise<void>;
  ready(): Promise<boolean>;
}

/**
 * Runs `idc portal` (from source unless `entry` says otherwise) as a real process on a loopback port, the way its Deployment
 * runs it. Output goes to `<workDir>/portal-<instance>.log`.
 */
export function startPortalProcess(options: {
  kubeconfig: string;
  workDir: string;
  namespace: string;
  port: number;
  instance?: string;
  stsEndpoint?: string;
  /** Serve /metrics on this port (off when unset). */
  metricsPort?: number;
  /** Names the log file, so replicas of one instance each have their own (default: instance). */
  replica?: string;
  /** The entry point to run (default src/cli.ts); benchmarks run the compiled dist/cli.js. */
  entry?: string;
}): PortalProcess {
  const instance = options.instance ?? "default";
  const logFile = path.join(options.workDir, `portal-${options.replica ?? instance}.log`);
  const metrics = options.metricsPort ? `127.0.0.1:${String(options.metricsPort)}` : "off";
  const { child, exited } = spawnCli(
    [
      "portal",
      `--kubeconfig=${options.kubeconfig}`,
      `--namespace=${options.namespace}`,
      `--instance=${instance}`,
      `--listen=127.0.0.1:${String(options.port)}`,
      `--metrics-addr=${metrics}`,
      ...(options.stsEndpoint ? [`--sts-endpoint=${options.stsEndpoint}`] : []),
    ],
    { logFile, ...(options.entry ? { entry: options.entry } : {}) },
  );
  const url = `http://127.0.0.1:${String(options.port)}`;
  return {
    url,
    child,
    exited,
    kill: (signal) => child.kill(signal),
    async stop() {
      child.kill("SIGTERM");
      await exited;
      await assertNoForbiddenRequests(logFile);
    },
    ready: () =>
      fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      ),
  };
}
