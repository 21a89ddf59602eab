import { setTimeout as sleep } from "node:timers/promises";

/** Polls `probe` until it returns true; usable in hooks, where expect.poll is not. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${String(timeoutMs)} ms waiting for ${what}`);
}
