// Benchmark (not a test): users and groups of 50 members (10,000 and 1,000 by default) against a real
// kube-apiserver, with `idc controller` running as its own process. Reports the time from the
// last create until every object is Ready, and the controller's peak RSS.
//
//   npm run bench:identity-store            (BENCH_USERS=10000 BENCH_GROUPS=1000 BENCH_MEMBERS=50 by default)
//   BENCH_USERS=100000 BENCH_GROUPS=10000 npm run bench:identity-store     (the large organisation)
import { CustomObjectsApi } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import path from "node:path";
import { chartControllerKubeconfig } from "../test/harness/chart.ts";
import { startControllerProcess } from "../test/harness/controller-process.ts";
import { repoRoot } from "../test/harness/paths.ts";
import { createNamespace } from "../test/harness/k8s.ts";
import {
  createRetrying,
  inParallel,
  LoadSampler,
  peakRssMiB,
  ReadyWatch,
  seconds,
  startBenchEnvironment,
} from "./support.ts";

const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 1_000);
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 50);
/** Creates in flight: the API server and etcd, not the client, should be the bound. */
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 96);
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
    args: ["--leader-elect=false", "--workers=8", "--log-level=info"],
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
  console.log(
    `created ${String(USERS)} users and ${String(GROUPS)} groups in ${seconds(lastCreate - startedAt)} s`,
  );

  for (;;) {
    const ready = readyUsers.count + readyGroups.count;
    if (ready === USERS + GROUPS) break;
    if (Date.now() - lastCreate > 600_000)
      throw new Error(`only ${String(ready)} Ready after 10 minutes`);
    await sleep(250);
  }
  const allReady = Date.now();
  const rss = await peakRssMiB(controller.child.pid ?? 0);
  const loadAverage = load.stop();
  readyUsers.stop();
  readyGroups.stop();
  await controller.stop("SIGTERM");
  console.log(
    JSON.stringify({
      users: USERS,
      groups: GROUPS,
      members: MEMBERS,
      createSeconds: Number(seconds(lastCreate - startedAt)),
      readyAfterLastCreateSeconds: Number(seconds(allReady - lastCreate)),
      controllerPeakRssMiB: Math.round(rss),
      concurrency: CONCURRENCY,
      loadAverage,
    }),
  );
} finally {
  await env.stop();
}
