// Shared by the benchmarks: a real control plane from the test harness, and small helpers.
import { readFile } from "node:fs/promises";
import { resolveBinary } from "../scripts/toolchain/binaries.ts";
import { operatorCrdFiles } from "../test/harness/crds.ts";
import { TestEnvironment } from "../test/harness/environment.ts";

export async function startBenchEnvironment(
  options: { moto?: boolean } = {},
): Promise<TestEnvironment> {
  const [kubeApiServer, etcd, motoServer] = await Promise.all([
    resolveBinary("kube-apiserver"),
    resolveBinary("etcd"),
    resolveBinary("moto_server"),
  ]);
  return TestEnvironment.start({
    binaries: { kubeApiServer, etcd, motoServer },
    crdFiles: operatorCrdFiles(),
    ...(options.moto ? { moto: true } : {}),
  });
}

/** Runs `task` for every item with at most `limit` in flight. */
export async function inParallel<T>(
  items: T[],
  limit: number,
  task: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

/** Peak resident set size of a process in MiB, from /proc (Linux). */
export async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${String(pid)}/status`, "utf8");
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

export function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
