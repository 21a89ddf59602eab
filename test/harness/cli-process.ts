import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { repoRoot } from "./paths.ts";

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
      env: { ...process.env, ...options.env },
    },
  );
  // Both streams write to one file: neither may end it, or the other's last lines are lost.
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  // "close" comes after the exit and after both streams have ended; the log is then flushed.
  const exited = new Promise<number | null>((resolve) =>
    child.once("close", (code) => log.end(() => resolve(code))),
  );
  process.once("exit", () => child.kill("SIGKILL"));
  return { child, exited };
}
