// Shared by the benchmarks: a real control plane from the test harness, and small helpers.
import { execFileSync } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { loadavg } from "node:os";
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

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ). */
let ticksPerSecond: number | undefined;
function clockTicks(): number {
  ticksPerSecond ??= Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
  return ticksPerSecond;
}

/**
 * CPU seconds (user + system) used so far by a process and every descendant of it, from /proc
 * (Linux): a server under the harness's guard script, or a Node process and its threads.
 */
export async function processTreeCpuSeconds(root: number): Promise<number> {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const text = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // The command name may hold spaces and parentheses: the fields start after the last ")".
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    if (fields.length < 13) continue;
    stats.set(Number(entry), {
      ppid: Number(fields[1]),
      ticks: Number(fields[11]) + Number(fields[12]),
    });
  }
  let ticks = 0;
  const pending = [root];
  while (pending.length > 0) {
    const pid = pending.pop() as number;
    ticks += stats.get(pid)?.ticks ?? 0;
    for (const [child, s] of stats) if (s.ppid === pid) pending.push(child);
  }
  return ticks / clockTicks();
}

/** The value at quantile `q` (0..1) of some samples, nearest rank. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

/** The load averages (1, 5, 15 minutes), to print beside every figure of a shared machine. */
export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}
