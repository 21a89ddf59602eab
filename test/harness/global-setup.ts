import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { resolveBinary } from "../../scripts/toolchain/binaries.ts";
import type { HarnessBinaries } from "./environment.ts";
import { cacheDir } from "./paths.ts";
import { isAlive } from "../../scripts/toolchain/process.ts";

/** Removes work folders left by test processes that are gone (kept ones, crashed runs). */
async function removeStaleWorkDirs(): Promise<void> {
  const runs = path.join(cacheDir(), "runs");
  const entries = await readdir(runs).catch(() => []);
  await Promise.all(
    entries.map(async (name) => {
      const pid = Number(/^env-(\d+)-/.exec(name)?.[1]);
      if (pid && !isAlive(pid)) await rm(path.join(runs, name), { recursive: true, force: true });
    }),
  );
}

declare module "vitest" {
  export interface ProvidedContext {
    binaries: HarnessBinaries;
  }
}

/**
 * Runs once per test run, before any worker: finds (or builds and caches) the real binaries so
 * that test files only start processes. A cold build of kube-apiserver takes minutes.
 */
export default async function setup(project: TestProject): Promise<void> {
  if (!process.env.IDC_KEEP_TEST_DIRS) await removeStaleWorkDirs();
  const [kubeApiServer, etcd, motoServer] = await Promise.all([
    resolveBinary("kube-apiserver"),
    resolveBinary("etcd"),
    resolveBinary("moto_server"),
  ]);
  project.provide("binaries", { kubeApiServer, etcd, motoServer });
}
