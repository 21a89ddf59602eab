import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { cacheDir, repoRoot } from "./paths.ts";

const running = new Set<ChildProcess>();

// One listener for all (a test may start dozens of processes): none outlives the test process.
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface CliProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code once the process is gone and its log is flushed. */
  readonly exited: Promise<number | null>;
}

/**
 * Runs `idc <args>` as a real process (Node 24, the entry point users run; src/cli.ts unless
 * `entry` names another), its stdout and stderr appended to `logFile`. It is killed when the
 * test process exits, even after a failure.
 */
export function spawnCli(
  args: string[],
  options: { logFile: string; entry?: string; env?: NodeJS.ProcessEnv },
): CliProcess {
  const log = createWriteStream(options.logFile, { flags: "a" });
  const child = spawn(
    process.execPath,
    [options.entry ?? path.join(repoRoot, "src/cli.ts"), ...args],
    {
      stdio: ["ignore", "pipe", "pipe"],
      // One compile cache for every process the tests start (see src/cli.ts), kept across runs.
      env: {
        NODE_COMPILE_CACHE: path.join(cacheDir(), "node-compile-cache"),
        ...process.env,
        ...options.env,
      },
    },
  );
  // Both streams write to one file: neither may end it, or the other's last lines are lost.
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  // "close" comes after the exit and after both streams have ended; the log is then flushed.
  const exited = new Promise<number | null>((resolve) =>
    child.once("close", (code) => {
      running.delete(child);
      log.end(() => resolve(code));
    }),
  );
  running.add(child);
  return { child, exited };
}
