import type { ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { spawnCli } from "./cli-process.ts";
import { freePort } from "./ports.ts";

export interface TimeRange {
  from: number;
  to: number;
}

/** A log line and when this (test) process received it, by the test's own clock. */
export interface TimedLine {
  at: number;
  line: string;
}

export interface ControllerProcess {
  readonly identity: string;
  /**
   * Every log line as it arrived, stamped with the test's clock: comparable across processes
   * even when their own clocks are faked.
   */
  readonly timeline: TimedLine[];
  readonly healthUrl: string;
  /** Its JSON log (stdout and stderr), complete once `exited` has resolved. */
  readonly logFile: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  /**
   * Sends `signal` (SIGTERM by default), waits for the exit, then fails if the API server
   * refused the controller anything (see forbiddenRequests), except while it was starting.
   */
  stop(signal?: NodeJS.Signals, apiServerStarting?: readonly TimeRange[]): Promise<void>;
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
  const logFile = path.join(options.workDir, `controller-${options.identity}.log`);
  const { child, exited } = spawnCli(
    [
      "controller",
      `--kubeconfig=${options.kubeconfig}`,
      `--namespace=${options.namespace}`,
      `--health-addr=127.0.0.1:${String(port)}`,
      `--identity=${options.identity}`,
      "--log-level=debug",
      ...(options.args ?? []),
    ],
    { logFile, ...(options.entry ? { entry: options.entry } : {}), env: options.env },
  );
  const healthUrl = `http://127.0.0.1:${String(port)}`;
  const timeline: TimedLine[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let partial = "";
    stream?.on("data", (chunk: Buffer) => {
      const at = Date.now();
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) timeline.push({ at, line });
    });
  }
  void exited.then(() => timeline.push({ at: Date.now(), line: '{"msg":"process exited"}' }));
  return {
    identity: options.identity,
    timeline,
    healthUrl,
    logFile,
    child,
    exited,
    kill: (signal) => child.kill(signal),
    async stop(signal = "SIGTERM", apiServerStarting = []) {
      child.kill(signal);
      await exited;
      await assertNoForbiddenRequests(logFile, apiServerStarting);
    },
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

/**
 * Lines of a controller log that show the Kubernetes API server refusing a request: a typed
 * client's error ("HTTP-Code: 403", with RBAC's "... is forbidden: User ..." in its body) or a
 * watch that ended with "Forbidden". AWS refusals (AccessDenied) do not match. Lines logged
 * while the API server was starting (`ignore`, plus 2 s for the log to catch up) are left out:
 * its authorizer refuses everyone until its caches have synced.
 */
export function forbiddenRequests(log: string, ignore: readonly TimeRange[] = []): string[] {
  const starting = (line: string) => {
    const time = Number(/"time":(\d+)/.exec(line)?.[1]);
    return ignore.some((r) => time >= r.from && time <= r.to + 2000);
  };
  return log
    .split("\n")
    .filter((line) => /HTTP-Code: 403\b|is forbidden: User|"err":"Forbidden"/.test(line))
    .filter((line) => !starting(line));
}

/** Throws with the offending lines when a process's log shows a forbidden request. */
export async function assertNoForbiddenRequests(
  logFile: string,
  apiServerStarting: readonly TimeRange[] = [],
): Promise<void> {
  const log = await readFile(logFile, "utf8").catch(() => "");
  const lines = forbiddenRequests(log, apiServerStarting);
  if (lines.length > 0) {
    throw new Error(
      `the API server refused ${path.basename(logFile, ".log")} (RBAC) ${String(lines.length)} time(s), see ${logFile}:\n${lines.slice(0, 10).join("\n")}`,
    );
  }
}
