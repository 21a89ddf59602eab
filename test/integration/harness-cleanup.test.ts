import { spawn, execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, inject, it } from "vitest";
import { startEtcd } from "../harness/etcd.ts";
import { repoRoot } from "../harness/paths.ts";

function processesMentioning(text: string): string[] {
  try {
    return execFileSync("pgrep", ["-f", text], { encoding: "utf8" }).trim().split("\n");
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

async function answers(url: string): Promise<boolean> {
  return fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) }).then(
    (r) => r.ok,
    () => false,
  );
}

describe("harness process cleanup", () => {
  it("stops a server when asked", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "idc-cleanup-"));
    const etcd = await startEtcd(inject("binaries").etcd, dir);
    expect(await answers(etcd.url)).toBe(true);
    await etcd.stop();
    expect(await answers(etcd.url)).toBe(false);
    expect(processesMentioning(dir)).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });

  it("stops a server whose test process was killed with SIGKILL", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "idc-orphan-"));
    const child = spawn(
      process.execPath,
      [
        path.join(repoRoot, "test/integration/fixtures/start-etcd-and-wait.ts"),
        inject("binaries").etcd,
        dir,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const firstLine = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once("line", resolve);
      child.once("exit", (code) => {
        reject(new Error(`fixture exited early with ${String(code)}`));
      });
    });
    const { url } = JSON.parse(firstLine) as { url: string };
    expect(await answers(url)).toBe(true);
    expect(processesMentioning(dir).length).toBeGreaterThan(0);

    child.kill("SIGKILL");
    await expect.poll(() => answers(url), { timeout: 15_000 }).toBe(false);
    await expect.poll(() => processesMentioning(dir), { timeout: 15_000 }).toEqual([]);
    await rm(dir, { recursive: true, force: true });
  });
});
