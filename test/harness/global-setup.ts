import type { TestProject } from "vitest/node";
import { resolveBinary } from "./binaries.ts";

export interface HarnessBinaries {
  kubeApiServer: string;
  etcd: string;
  motoServer: string;
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
  const [kubeApiServer, etcd, motoServer] = await Promise.all([
    resolveBinary("kube-apiserver"),
    resolveBinary("etcd"),
    resolveBinary("moto_server"),
  ]);
  project.provide("binaries", { kubeApiServer, etcd, motoServer });
}
