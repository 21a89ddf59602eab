import { execFileSync } from "node:child_process";

let library: string | undefined;

/**
 * Environment that shifts one process's wall clock by `offset` (for example "+30s") with
 * Debian's libfaketime, preloaded into the process itself (the `faketime` command would put a
 * process of its own between us and the controller, which signals would not pass). Monotonic
 * time is left alone, as on a node whose wall clock is merely wrong.
 */
export function fakeTimeEnv(offset: string): NodeJS.ProcessEnv {
  library ??= findLibrary();
  return { LD_PRELOAD: library, FAKETIME: offset, DONT_FAKE_MONOTONIC: "1" };
}

function findLibrary(): string {
  let files = "";
  try {
    files = execFileSync("dpkg", ["-L", "libfaketime"], { encoding: "utf8" });
  } catch {
    // not installed: the error below says how to install it
  }
  const found = files.split("\n").find((f) => f.endsWith("/libfaketime.so.1"));
  if (!found) {
    throw new Error(
      "libfaketime is not installed; run: apt-get update && apt-get install -y faketime",
    );
  }
  return found;
}
