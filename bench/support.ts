// Shared by the benchmarks: a real control plane from the test harness, and small helpers.
import { execFileSync } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { CustomObjectsApi, Watch, type KubeConfig } from "@kubernetes/client-node";
import { Agent, request } from "undici";
import { resolveBinary } from "../scripts/toolchain/binaries.ts";
import { operatorCrdFiles } from "../test/harness/crds.ts";
import { TestEnvironment, type TestEnvironmentOptions } from "../test/harness/environment.ts";

export async function startBenchEnvironment(
  options: { moto?: boolean; motoOptions?: TestEnvironmentOptions["motoOptions"] } = {},
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
    ...(options.motoOptions ? { motoOptions: options.motoOptions } : {}),
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

/**
 * Counts objects of one kind whose Ready condition is True, from a watch opened before the
 * first create: each change arrives once, so the bench does not list 100,000 objects again and
 * again (which would load the API server it measures).
 */
export class ReadyWatch {
  private readonly ready = new Map<string, boolean>();
  private readyTotal = 0;
  private resourceVersion = "";
  private abort: AbortController | undefined;
  private stopped = false;

  private readonly kc: KubeConfig;
  private readonly plural: string;

  private readonly done: (obj: ReadyObject) => boolean;

  private constructor(kc: KubeConfig, plural: string, done: (obj: ReadyObject) => boolean) {
    this.kc = kc;
    this.plural = plural;
    this.done = done;
  }

  /** `done` decides what counts (default: the Ready condition is True). */
  static async start(
    kc: KubeConfig,
    plural: string,
    done: (obj: ReadyObject) => boolean = readyTrue,
  ): Promise<ReadyWatch> {
    const w = new ReadyWatch(kc, plural, done);
    await w.relist();
    w.open();
    return w;
  }

  private set(name: string, ready: boolean | undefined): void {
    const was = this.ready.get(name) ?? false;
    if (ready === undefined) this.ready.delete(name);
    else this.ready.set(name, ready);
    this.readyTotal += Number(ready ?? false) - Number(was);
  }

  /**
   * Every object as it is now, in pages: at the start, and when the API server answers a resumed
   * watch with 410 Gone (its window of events moved past the version the bench had seen, which
   * happens under hours of writes): events were lost, so the counts are rebuilt from a list.
   */
  private async relist(): Promise<void> {
    const api = this.kc.makeApiClient(CustomObjectsApi);
    const seen = new Set<string>();
    let next: string | undefined;
    do {
      const page = (await api.listClusterCustomObject({
        group: "identitycenter.dev",
        version: "v1alpha1",
        plural: this.plural,
        limit: 500,
        ...(next ? { _continue: next } : {}),
      })) as { items: ReadyObject[]; metadata?: { resourceVersion?: string; continue?: string } };
      for (const obj of page.items) {
        const name = obj.metadata?.name ?? "";
        seen.add(name);
        this.set(name, this.done(obj));
      }
      this.resourceVersion = page.metadata?.resourceVersion ?? this.resourceVersion;
      next = page.metadata?.continue || undefined;
    } while (next);
    for (const name of [...this.ready.keys()]) if (!seen.has(name)) this.set(name, undefined);
    this.relists++;
  }

  private open(): void {
    let gone = false;
    const reopen = (err?: unknown) => {
      if (this.stopped) return;
      // The API server ends watches after a while: resume from the last version seen, or list
      // again when that version has expired.
      const expired =
        gone || (err as { statusCode?: number } | null | undefined)?.statusCode === 410;
      (expired ? this.relist() : Promise.resolve()).then(
        () => {
          this.open();
        },
        () =>
          setTimeout(() => {
            reopen(expired ? { statusCode: 410 } : undefined);
          }, 1000),
      );
    };
    new Watch(this.kc)
      .watch(
        `/apis/identitycenter.dev/v1alpha1/${this.plural}`,
        { resourceVersion: this.resourceVersion, allowWatchBookmarks: true },
        (phase: string, obj: ReadyObject & { code?: number }) => {
          if (phase === "ERROR") {
            if (obj.code === 410) gone = true;
            return;
          }
          this.resourceVersion = obj.metadata?.resourceVersion ?? this.resourceVersion;
          if (phase === "BOOKMARK") return;
          const name = obj.metadata?.name ?? "";
          this.set(name, phase === "DELETED" ? undefined : this.done(obj));
        },
        reopen,
      )
      .then((abort) => (this.abort = abort))
      .catch(() => undefined); // watch() reports its failures through `reopen`, never by throwing
  }

  /** How often the counts were rebuilt from a list (1: only at the start). */
  relists = 0;

  /** The names not Ready now, up to `max`: what a run that timed out waited for. */
  notReady(max: number): string[] {
    const names: string[] = [];
    for (const [name, ready] of this.ready) {
      if (!ready) names.push(name);
      if (names.length >= max) break;
    }
    return names;
  }

  get count(): number {
    return this.readyTotal;
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}

export interface ReadyObject {
  metadata?: { name?: string; resourceVersion?: string };
  status?: {
    conditions?: { type: string; status: string }[];
    /** An Account's roles. */
    roles?: { state: string }[];
  };
}

const readyTrue = (obj: ReadyObject) =>
  (obj.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

/** The highest 1-minute load average seen while `sample` runs, sampled every 5 s. */
export class LoadSampler {
  readonly atStart = loadavg()[0] ?? 0;
  private peak = this.atStart;
  private readonly samples: number[] = [this.atStart];
  private readonly timer = setInterval(() => {
    const now = loadavg()[0] ?? 0;
    this.samples.push(now);
    this.peak = Math.max(this.peak, now);
  }, 5000);

  stop(): { start: number; mean: number; peak: number } {
    clearInterval(this.timer);
    const mean = this.samples.reduce((a, b) => a + b, 0) / this.samples.length;
    const round = (n: number) => Number(n.toFixed(1));
    return { start: round(this.atStart), mean: round(mean), peak: round(this.peak) };
  }
}

/**
 * Creates with a few retries: under a long create storm an HTTP/2 connection to the API
 * server is now and then cut (a GOAWAY), which is the client's to retry. A 409 after a cut
 * means the first attempt did land.
 */
export async function createRetrying(create: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await create();
      return;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 409 && attempt > 1) return;
      if (attempt >= 5 || (typeof code === "number" && code !== 429 && code < 500)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}

/**
 * The API server's own count of write requests (POST, PUT, PATCH, DELETE) to our kinds by
 * resource and subresource (`users`, `users/status`), from its /metrics
 * (apiserver_request_total): which writes a run made, whoever made them, and what a "zero
 * writes" claim is checked against.
 */
export async function identityCenterWrites(env: TestEnvironment): Promise<Record<string, number>> {
  const res = await env.apiServer.request("GET", "/metrics");
  const text = typeof res.body === "string" ? res.body : JSON.stringify(res.body);
  const counts: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? "";
    const group = /group="([^"]*)"/.exec(line)?.[1] ?? "";
    if (!["POST", "PUT", "PATCH", "DELETE"].includes(verb) || group !== "identitycenter.dev")
      continue;
    const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? "";
    const sub = /subresource="([^"]*)"/.exec(line)?.[1] ?? "";
    const key = sub ? `${resource}/${sub}` : resource;
    counts[key] = (counts[key] ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return counts;
}

/** The counts of `after` less those of `before`. */
export const writesSince = (before: Record<string, number>, after: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));

/**
 * Creates objects through one shared HTTP/2 connection to the API server, many in flight:
 * client-node makes a new undici Agent (a new TLS connection) for every call and walks each
 * object through its type serializer, which held a bulk load to about 140 creates/s on the
 * build machine. Headers (the token) are read once; a 401 is not retried (bench tokens do not
 * rotate). Answers with the created object, as the API server returned it.
 */
export class BulkCreator {
  private readonly server: string;
  private readonly headers: Record<string, string>;
  private readonly agent: Agent;

  private constructor(server: string, headers: Record<string, string>, agent: Agent) {
    this.server = server;
    this.headers = headers;
    this.agent = agent;
  }

  static async connect(kc: KubeConfig): Promise<BulkCreator> {
    const server = kc.getCurrentCluster()?.server;
    if (!server) throw new Error("the kubeconfig has no current cluster");
    const options: {
      headers?: Record<string, unknown>;
      ca?: unknown;
      cert?: unknown;
      key?: unknown;
    } = {};
    await kc.applyToHTTPSOptions(options as Parameters<KubeConfig["applyToHTTPSOptions"]>[0]);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(options.headers ?? {})) headers[k] = String(v);
    const tls = {
      ...(options.ca ? { ca: options.ca as string } : {}),
      ...(options.cert ? { cert: options.cert as string } : {}),
      ...(options.key ? { key: options.key as string } : {}),
    };
    const agent = new Agent({ allowH2: true, connections: 1, connect: tls });
    return new BulkCreator(server.replace(/\/$/, ""), headers, agent);
  }

  /** POSTs `body` to the collection at `path`, retried like createRetrying. */
  async create(path: string, body: object): Promise<unknown> {
    let created: unknown;
    await createRetrying(async () => {
      const res = await request(`${this.server}${path}`, {
        method: "POST",
        dispatcher: this.agent,
        headers: {
          ...this.headers,
          "content-type": "application/json",
          accept: "application/json",
        },
        body: JSON.stringify(body),
      });
      const text = await res.body.text();
      if (res.statusCode >= 300)
        throw Object.assign(
          new Error(`POST ${path}: ${String(res.statusCode)} ${text.slice(0, 200)}`),
          {
            code: res.statusCode,
          },
        );
      created = JSON.parse(text);
    });
    return created;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
