import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { toolsDir } from "./paths.ts";

const running = new Set<ChildProcess>();

// Last resort for a worker that exits without running its hooks: the guard script also stops
// the server when this process dies, but killing here makes the exit immediate.
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface ServerProcess {
  readonly name: string;
  readonly logFile: string;
  /** The guard script's pid: the server runs as its child (see processTreeCpuSeconds in bench/). */
  readonly pid: number | undefined;
  /** Resolves with the exit code once the process has ended. */
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
  isRunning(): boolean;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  logDir: string;
  env?: NodeJS.ProcessEnv;
}

/** Starts a server under the guard script, with its output in `<logDir>/<name>.log`. */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  await mkdir(options.logDir, { recursive: true });
  const logFile = path.join(options.logDir, `${options.name}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(path.join(toolsDir, "guard.sh"), [options.command, ...options.args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  running.add(child);
  let alive = true;
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      alive = false;
      running.delete(child);
      resolve(code);
    });
  });
  return {
    name: options.name,
    logFile,
    pid: child.pid,
    exited,
    isRunning: () => alive,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (!alive) return;
      child.kill(signal);
      await exited;
    },
  };
}

/** Polls `probe` until it resolves true; on timeout fails with the tail of the server log. */
export async function waitUntil(
  server: ServerProcess,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!server.isRunning()) break;
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  const tail = (await readFile(server.logFile, "utf8").catch(() => "")).split("\n").slice(-30);
  const state = server.isRunning() ? `not ready after ${timeoutMs} ms` : "exited";
  throw new Error(`${server.name} ${state}; last log lines:\n${tail.join("\n")}`);
}
