import { open, rm, stat } from "node:fs/promises";

/** A lock older than this is left by a process that died: taken over. */
const STALE_MS = 60_000;

/**
 * Runs `work` holding an exclusive lock file (created with O_EXCL), waiting for another holder
 * up to `timeoutMs`: parallel `credential_process` calls refresh a token once, not each.
 */
export async function withFileLock<T>(
  file: string,
  work: () => Promise<T>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(file, "wx", 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const age = await stat(file).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > STALE_MS) await rm(file, { force: true });
      else if (Date.now() > deadline)
        throw new Error(`timed out waiting for the lock ${file}`, { cause: err });
      else await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  }
  try {
    return await work();
  } finally {
    await rm(file, { force: true });
  }
}
