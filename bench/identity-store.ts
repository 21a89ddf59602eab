// Benchmark (not a test): users and groups of 50 members (10,000 and 1,000 by default) against a real
// kube-apiserver, with `idc controller` running as its own process. Reports the time from the
// last create until every object is Ready, and the controller's peak RSS.
//
//   npm run bench:identity-store            (BENCH_USERS=10000 BENCH_GROUPS=1000 BENCH_MEMBERS=50 by default)
//   BENCH_USERS=100000 BENCH_GROUPS=10000 npm run bench:identity-store     (the large organisation)
//   BENCH_WORKERS=32 (the controller's --workers, 8 by default), BENCH_LOG_LEVEL=debug (counts
//   status writes and failed reconciles from the controller's log)
import { CustomObjectsApi } from "@kubernetes/client-node";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import path from "node:path";
import { chartControllerKubeconfig } from "../test/harness/chart.ts";
import { startControllerProcess } from "../test/harness/controller-process.ts";
import { repoRoot } from "../test/harness/paths.ts";
import { createNamespace } from "../test/harness/k8s.ts";
import {
  createRetrying,
  identityCenterWrites,
  inParallel,
  LoadSampler,
  peakRssMiB,
  processTreeCpuSeconds,
  ReadyWatch,
  seconds,
  startBenchEnvironment,
  writesSince,
} from "./support.ts";

const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 1_000);
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 50);
/** Creates in flight: the API server and etcd, not the client, should be the bound. */
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 96);
/** How long to wait for every object to be Ready after the last create before reporting. */
const WAIT_MS = Number(process.env.BENCH_WAIT_SECONDS ?? 600) * 1000;
const ref = { group: "identitycenter.dev", version: "v1alpha1" };

const env = await startBenchEnvironment();
try {
  const kc = env.kubeConfig();
  await createNamespace(kc, "identity-center-operator");
  const controller = await startControllerProcess({
    // As the Helm chart's ServiceAccount, with its RBAC.
    kubeconfig: await chartControllerKubeconfig(env),
    workDir: env.workDir,
    identity: "bench",
    namespace: "identity-center-operator",
    args: [
      "--leader-elect=false",
      `--workers=${process.env.BENCH_WORKERS ?? "8"}`,
      // debug logs every status write and conflict (for counting calls per object).
      `--log-level=${process.env.BENCH_LOG_LEVEL ?? "info"}`,
    ],
    // The compiled CLI, as the image runs it (running .ts adds the type stripper's memory).
    entry: path.join(repoRoot, "dist/cli.js"),
    // The heap settings the image sets by default (Dockerfile NODE_OPTIONS).
    env: {
      NODE_OPTIONS:
        process.env.BENCH_CONTROLLER_NODE_OPTIONS ??
        "--max-old-space-size=160 --max-semi-space-size=8",
    },
  });
  const api = kc.makeApiClient(CustomObjectsApi);
  const userName = (i: number) => `user-${String(i).padStart(6, "0")}`;
  const [readyUsers, readyGroups] = await Promise.all([
    ReadyWatch.start(kc, "users"),
    ReadyWatch.start(kc, "groups"),
  ]);
  const load = new LoadSampler();

  // CPU seconds of each process, to say what bounds a run on a shared machine (measured).
  const pids = {
    controller: controller.child.pid,
    kubeApiServer: env.apiServer.pid,
    etcd: env.etcd.pid,
  };
  // The bench's own CPU from Node (its process tree holds the servers and the controller).
  const cpu = async () => ({
    bench: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    ...Object.fromEntries(
      await Promise.all(
        Object.entries(pids).map(
          async ([name, pid]) => [name, pid ? await processTreeCpuSeconds(pid) : NaN] as const,
        ),
      ),
    ),
  });
  const cpuAtStart = await cpu();
  const startedAt = Date.now();
  await inParallel([...Array(USERS).keys()], CONCURRENCY, (i) =>
    createRetrying(() =>
      api.createClusterCustomObject({
        ...ref,
        plural: "users",
        body: {
          apiVersion: "identitycenter.dev/v1alpha1",
          kind: "User",
          metadata: { name: userName(i) },
          spec: {
            userName: userName(i),
            email: `${userName(i)}@example.com`,
            attributes: { department: `d${String(i % 20)}` },
          },
        },
      }),
    ),
  );
  await inParallel([...Array(GROUPS).keys()], CONCURRENCY, (g) =>
    createRetrying(() =>
      api.createClusterCustomObject({
        ...ref,
        plural: "groups",
        body: {
          apiVersion: "identitycenter.dev/v1alpha1",
          kind: "Group",
          metadata: { name: `group-${String(g).padStart(5, "0")}` },
          spec: {
            members: Array.from({ length: MEMBERS }, (_, m) => userName((g * MEMBERS + m) % USERS)),
          },
        },
      }),
    ),
  );
  const lastCreate = Date.now();
  const cpuAtLastCreate = await cpu();
  const writesAtLastCreate = await identityCenterWrites(env);
  console.log(
    `created ${String(USERS)} users and ${String(GROUPS)} groups in ${seconds(lastCreate - startedAt)} s`,
  );

  // Ready counts every 10 s after the last create: how the backlog drains, not only its end.
  const drain: { afterSeconds: number; ready: number }[] = [];
  let sampledAt = 0;
  let timedOut = false;
  for (;;) {
    const ready = readyUsers.count + readyGroups.count;
    if (ready === USERS + GROUPS) break;
    if (Date.now() - sampledAt >= 10_000) {
      sampledAt = Date.now();
      drain.push({ afterSeconds: Math.round((sampledAt - lastCreate) / 1000), ready });
    }
    if (Date.now() - lastCreate > WAIT_MS) {
      timedOut = true;
      break;
    }
    await sleep(250);
  }
  const allReady = Date.now();
  // What a run that timed out waited for: a few of the objects not Ready, with their condition.
  const whyNotReady = async () =>
    Promise.all(
      [
        ...readyUsers.notReady(5).map((name): [string, string] => ["users", name]),
        ...readyGroups.notReady(5).map((name): [string, string] => ["groups", name]),
      ].map(async ([plural, name]) => {
        const obj = (await api.getClusterCustomObject({ ...ref, plural, name })) as {
          status?: { conditions?: { type: string; status: string; reason?: string }[] };
        };
        const ready = obj.status?.conditions?.find((c) => c.type === "Ready");
        return `${plural}/${name}: ${ready ? `${ready.status} ${ready.reason ?? ""}` : "no Ready condition"}`;
      }),
    );
  const cpuAtReady = await cpu();
  const writesAtReady = await identityCenterWrites(env);
  const cpuSeconds = (from: Record<string, number>, to: Record<string, number>) =>
    Object.fromEntries(
      Object.keys(to).map((k) => [k, Number(((to[k] ?? 0) - (from[k] ?? 0)).toFixed(1))]),
    );
  const rss = await peakRssMiB(controller.child.pid ?? 0);
  const loadAverage = load.stop();
  readyUsers.stop();
  readyGroups.stop();
  await controller.stop("SIGTERM");
  // With BENCH_LOG_LEVEL=debug: the status writes and failed reconciles, from the controller's log.
  const log = await readFile(controller.logFile, "utf8");
  const count = (msg: string) => log.split("\n").filter((l) => l.includes(`"msg":"${msg}"`)).length;
  const reasons: Record<string, number> = {};
  for (const line of log.split("\n")) {
    if (!line.includes("reconcile failed")) continue;
    const err = /"err":"([^"]{0,80})/.exec(line)?.[1] ?? "?";
    reasons[err] = (reasons[err] ?? 0) + 1;
  }
  const calls = {
    failureReasons: reasons,
    userStatusWrites: count("user status updated"),
    groupStatusWrites: count("group status updated"),
    failedReconciles: count("reconcile failed; will retry"),
  };
  console.log(
    JSON.stringify({
      users: USERS,
      groups: GROUPS,
      members: MEMBERS,
      createSeconds: Number(seconds(lastCreate - startedAt)),
      readyAfterLastCreateSeconds: timedOut ? null : Number(seconds(allReady - lastCreate)),
      ...(timedOut
        ? {
            timedOutAfterSeconds: WAIT_MS / 1000,
            readyAtTimeout: { users: readyUsers.count, groups: readyGroups.count },
            notReady: await whyNotReady(),
          }
        : {}),
      drain,
      watchRelists: { users: readyUsers.relists, groups: readyGroups.relists },
      controllerPeakRssMiB: Math.round(rss),
      concurrency: CONCURRENCY,
      cpuSecondsDuringCreates: cpuSeconds(cpuAtStart, cpuAtLastCreate),
      cpuSecondsAfterLastCreate: cpuSeconds(cpuAtLastCreate, cpuAtReady),
      // Every write to our kinds the API server took (the bench's creates and the controller's
      // status writes), until the last create and from then until all were Ready.
      apiServerWrites: {
        untilLastCreate: writesAtLastCreate,
        afterLastCreate: writesSince(writesAtLastCreate, writesAtReady),
      },
      ...(process.env.BENCH_LOG_LEVEL === "debug" ? { calls } : {}),
      loadAverage,
    }),
  );
} finally {
  await env.stop();
}
