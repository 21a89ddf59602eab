import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { repoRoot } from "./paths.ts";

export interface PortalProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  ready(): Promise<boolean>;
}

/**
 * Runs `idc portal` from source as a real process on a loopback port, the way its Deployment
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
}): PortalProcess {
  const instance = options.instance ?? "default";
  const log = createWriteStream(path.join(options.workDir, `portal-${instance}.log`), {
    flags: "a",
  });
  const child = spawn(
    process.execPath,
    [
      path.join(repoRoot, "src/cli.ts"),
      "portal",
      `--kubeconfig=${options.kubeconfig}`,
      `--namespace=${options.namespace}`,
      `--instance=${instance}`,
      `--listen=127.0.0.1:${String(options.port)}`,
      `--metrics-addr=${options.metricsPort ? `127.0.0.1:${String(options.metricsPort)}` : "off"}`,
      ...(options.stsEndpoint ? [`--sts-endpoint=${options.stsEndpoint}`] : []),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  process.once("exit", () => child.kill("SIGKILL"));
  const url = `http://127.0.0.1:${String(options.port)}`;
  return {
    url,
    child,
    exited,
    kill: (signal) => child.kill(signal),
    ready: () =>
      fetch(`${url}/readyz`).then(
        (r) => r.ok,
        () => false,
      ),
  };
}
