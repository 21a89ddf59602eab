// Benchmark (not a test): 30 accounts x 20 permission sets, every pair assigned (600 roles), on
// moto. Reports the controller's time to converge, its IAM calls by operation (writes against
// the minimum, and the reads), the writes of a second full re-check, and a baseline in the same
// run: a plain script that makes exactly the minimal write calls with the AWS SDK at the same
// concurrency and retry settings, with no reads and no Kubernetes.
//
//   npm run bench:provisioning     (BENCH_ACCOUNTS=30 BENCH_PERMISSION_SETS=20 by default)
//   BENCH_THROTTLE=0.1             a proxy in front of moto answers 10 % of IAM calls of both
//                                  the baseline and the controller with Throttling
//   BENCH_CONTROLLER_NODE_OPTIONS  the controller's Node flags (default: the image's)
import { copyFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  CreateSAMLProviderCommand,
  IAMClient,
  PutRolePolicyCommand,
} from "@aws-sdk/client-iam";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity } from "@smithy/types";
import {
  motoControllerEnv,
  startControllerProcess,
  type ControllerProcess,
} from "../test/harness/controller-process.ts";
import { FaultProxy, seededThrottling } from "../test/harness/fault-proxy.ts";
import { createNamespace, customObjects } from "../test/harness/k8s.ts";
import { chartControllerKubeconfig } from "../test/harness/chart.ts";
import { REGION } from "../test/harness/moto.ts";
import { repoRoot } from "../test/harness/paths.ts";
import { mapLimit } from "../src/util/concurrency.ts";
import {
  identityCenterWrites,
  LoadSampler,
  peakRssMiB,
  processTreeCpuSeconds,
  ReadyWatch,
  seconds,
  startBenchEnvironment,
  writesSince,
} from "./support.ts";

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 30);
const PERMISSION_SETS = Number(process.env.BENCH_PERMISSION_SETS ?? 20);
/** Share of IAM calls the proxy answers with Throttling (0: no proxy at all). */
const THROTTLE = Number(process.env.BENCH_THROTTLE ?? 0);
const SEED = Number(process.env.BENCH_SEED ?? 15);
/** The heap settings the image sets by default (Dockerfile NODE_OPTIONS). */
const CONTROLLER_NODE_OPTIONS =
  process.env.BENCH_CONTROLLER_NODE_OPTIONS ?? "--max-old-space-size=160 --max-semi-space-size=8";
const ACCOUNT_WORKERS = 8;
const PER_ACCOUNT = 4;
/** The controller's IAM client makes up to 8 attempts per call (IamGateway); so does the baseline. */
const MAX_ATTEMPTS = 8;
/** Accounts warmed at once before the measurement (moto answers one request at a time). */
const WARM_CONCURRENCY = 16;
const MANAGED = [
  "arn:aws:iam::aws:policy/ReadOnlyAccess",
  "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
];
const INLINE = {
  Version: "2012-10-17",
  Statement: [{ Effect: "Allow", Action: ["s3:GetObject"], Resource: "*" }],
};
/** Per role: CreateRole + one AttachRolePolicy per managed policy + PutRolePolicy. */
const MIN_WRITES_PER_ROLE = 1 + MANAGED.length + 1;

const accountId = (prefix: number, i: number) => `${String(prefix)}${String(i).padStart(11, "0")}`;

/** idc_aws_calls_total of the controller, summed by "service:operation" (every outcome). */
async function callsByOperation(controller: ControllerProcess): Promise<Record<string, number>> {
  const text = await fetch(`${controller.healthUrl}/metrics`).then((r) => r.text());
  const calls: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith("idc_aws_calls_total{")) continue;
    const service = /service="([^"]*)"/.exec(line)?.[1] ?? "";
    const operation = /operation="([^"]*)"/.exec(line)?.[1] ?? "";
    const key = `${service}:${operation}`;
    calls[key] = (calls[key] ?? 0) + Number(line.split(" ").at(-1));
  }
  return calls;
}
async function metricSum(
  controller: ControllerProcess,
  match: (line: string) => boolean,
): Promise<number> {
  const text = await fetch(`${controller.healthUrl}/metrics`).then((r) => r.text());
  return text
    .split("\n")
    .filter((l) => !l.startsWith("#") && match(l))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}
const writes = (c: ControllerProcess) =>
  metricSum(
    c,
    (l) =>
      l.startsWith('idc_aws_calls_total{service="iam"') &&
      l.includes('outcome="success"') &&
      !/operation="(Get|List)/.test(l),
  );
const samlWrites = (c: ControllerProcess) =>
  metricSum(
    c,
    (l) => l.startsWith("idc_aws_calls_total{") && l.includes('operation="CreateSAMLProvider"'),
  );
const accountReconciles = (c: ControllerProcess) =>
  metricSum(c, (l) => l.startsWith('idc_reconcile_total{controller="account"'));

const env = await startBenchEnvironment({
  moto: true,
  // Only the AWS managed policies this bench attaches (and the access role's), and accounts
  // found without a backend per partition: warming 500 accounts takes seconds, not an hour.
  motoOptions: {
    manyAccounts: {
      awsManagedPolicies: [...MANAGED, "arn:aws:iam::aws:policy/AdministratorAccess"].map((arn) =>
        arn.slice(arn.lastIndexOf("/") + 1),
      ),
    },
  },
});
let proxy: FaultProxy | undefined;
try {
  const { moto } = env;
  // Set-up, not measured: every account gets its access role before either side starts.
  const setupStart = Date.now();
  const controllerAccounts = Array.from({ length: ACCOUNTS }, (_, i) => accountId(1, i + 1));
  const baselineAccounts = Array.from({ length: ACCOUNTS }, (_, i) => accountId(2, i + 1));
  await mapLimit([...controllerAccounts, ...baselineAccounts], WARM_CONCURRENCY, (id) =>
    moto.createMemberAccount(id),
  );
  const setupMs = Date.now() - setupStart;

  // Both sides reach moto through the same endpoint: moto itself, or the throttling proxy.
  if (THROTTLE > 0) {
    proxy = await FaultProxy.start(moto.endpoint);
    proxy.setChooser(seededThrottling({ rate: THROTTLE, seed: SEED }));
  }
  const endpoint = proxy?.url ?? moto.endpoint;
  const clientConfig = (credentials: AwsCredentialIdentity) => ({
    endpoint,
    region: REGION,
    credentials,
    // The SDK's standard retry strategy, as many attempts as the controller's IAM client.
    maxAttempts: MAX_ATTEMPTS,
  });
  const sts = new STSClient(clientConfig(moto.managementCredentials));
  const assume = async (id: string): Promise<AwsCredentialIdentity> => {
    const c = (
      await sts.send(
        new AssumeRoleCommand({ RoleArn: moto.accessRoleArn(id), RoleSessionName: "baseline" }),
      )
    ).Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken)
      throw new Error(`AssumeRole into ${id} returned no credentials`);
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
    };
  };
  // The bench's own CPU (every thread, not its children: moto, the API server and the
  // controller are its descendants) beside each server's process tree.
  const ownCpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const cpuOf = async (pids: Record<string, number | undefined>) => ({
    ...Object.fromEntries(
      await Promise.all(
        Object.entries(pids).map(
          async ([name, pid]) => [name, pid ? await processTreeCpuSeconds(pid) : 0] as const,
        ),
      ),
    ),
    bench: ownCpu(),
  });
  const cpuSince = (before: Record<string, number>, after: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(after).map(([k, v]) => [k, Number((v - (before[k] ?? 0)).toFixed(1))]),
    );

  // Baseline: the minimal writes, same concurrency (8 accounts at a time, 4 roles per account).
  const load = new LoadSampler();
  const baselineCpuStart = await cpuOf({ moto: moto.pid });
  const baselineStart = Date.now();
  let baselineCalls = 0;
  await mapLimit(baselineAccounts, ACCOUNT_WORKERS, async (id) => {
    const iam = new IAMClient(clientConfig(await assume(id)));
    const provider = await iam.send(
      new CreateSAMLProviderCommand({
        Name: "Baseline",
        SAMLMetadataDocument: "<EntityDescriptor/>".padEnd(1200, " "),
      }),
    );
    baselineCalls += 2;
    await mapLimit([...Array(PERMISSION_SETS).keys()], PER_ACCOUNT, async (p) => {
      const RoleName = `Baseline_${String(p)}`;
      await iam.send(
        new CreateRoleCommand({
          RoleName,
          Path: "/identitycenter/",
          AssumeRolePolicyDocument: JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              {
                Effect: "Allow",
                Principal: { Federated: provider.SAMLProviderArn },
                Action: "sts:AssumeRoleWithSAML",
              },
            ],
          }),
        }),
      );
      for (const PolicyArn of MANAGED)
        await iam.send(new AttachRolePolicyCommand({ RoleName, PolicyArn }));
      await iam.send(
        new PutRolePolicyCommand({
          RoleName,
          PolicyName: "Inline",
          PolicyDocument: JSON.stringify(INLINE),
        }),
      );
      baselineCalls += MIN_WRITES_PER_ROLE;
    });
  });
  const baselineMs = Date.now() - baselineStart;
  const baselineCpu = cpuSince(baselineCpuStart, await cpuOf({ moto: moto.pid }));
  const baselineLoad = load.stop();
  const baselineProxy = proxy && {
    requests: proxy.count(() => true),
    throttled: proxy.count(() => true) - proxy.forwarded,
  };

  // The operator: declare everything, then start the controller and time convergence.
  const kc = env.kubeConfig();
  await createNamespace(kc, "identity-center-operator");
  const objects = customObjects(kc);
  await objects.create("identitycenters", "IdentityCenter", "default", {
    portal: { hostname: "sso.example.com" },
  });
  await mapLimit([...controllerAccounts.entries()], 8, async ([i, id]) => {
    await objects.create("accounts", "Account", `account-${String(i)}`, { accountId: id });
    await objects.setLabels("accounts", `account-${String(i)}`, { ou: "bench" });
  });
  for (let p = 0; p < PERMISSION_SETS; p++) {
    await objects.create("permissionsets", "PermissionSet", `ps-${String(p)}`, {
      name: `Bench${String(p)}`,
      managedPolicies: MANAGED,
      inlinePolicy: INLINE,
    });
    await objects.create("accountassignments", "AccountAssignment", `aa-${String(p)}`, {
      principal: { kind: "Group", name: "everyone" },
      permissionSet: `ps-${String(p)}`,
      accountSelector: { matchLabels: { ou: "bench" } },
    });
  }
  // An account is done when all its pairs are Provisioned; counted from a watch (listing every
  // account's status every few hundred ms would load the API server the controller needs).
  const provisioned = await ReadyWatch.start(kc, "accounts", (a) => {
    const roles = a.status?.roles ?? [];
    return roles.length === PERMISSION_SETS && roles.every((r) => r.state === "Provisioned");
  });
  const proxyBefore = proxy && {
    requests: proxy.count(() => true),
    forwarded: proxy.forwarded,
  };
  const writesAtOperatorStart = await identityCenterWrites(env);
  const operatorLoad = new LoadSampler();
  const cpuAtOperatorStart = await cpuOf({
    controller: undefined,
    moto: moto.pid,
    kubeApiServer: env.apiServer.pid,
  });
  const started = Date.now();
  const startController = async (identity: string) =>
    startControllerProcess({
      // As the Helm chart's ServiceAccount, with its RBAC.
      kubeconfig: await chartControllerKubeconfig(env),
      workDir: env.workDir,
      identity,
      namespace: "identity-center-operator",
      entry: path.join(repoRoot, "dist/cli.js"),
      // The default re-check period (10 minutes): a shorter one would re-read accounts that
      // are done while others still converge, which no deployment does.
      args: [
        "--leader-elect=false",
        `--account-workers=${String(ACCOUNT_WORKERS)}`,
        `--aws-concurrency=${String(PER_ACCOUNT)}`,
        // info: the phases below are read from its log (one line per account change, cheap).
        `--log-level=${process.env.BENCH_LOG_LEVEL ?? "info"}`,
      ],
      env: {
        ...motoControllerEnv(moto.managementCredentials, endpoint),
        NODE_OPTIONS: CONTROLLER_NODE_OPTIONS,
      },
    });
  const controller = await startController("bench");
  const total = ACCOUNTS * PERMISSION_SETS;
  while (provisioned.count < ACCOUNTS) {
    if (Date.now() - started > 1_800_000)
      throw new Error(
        `only ${String(provisioned.count)} of ${String(ACCOUNTS)} accounts after 30 minutes`,
      );
    await sleep(100);
  }
  const convergeMs = Date.now() - started;
  provisioned.stop();
  // When the controller got to work, from its log as it arrived (seconds after its start).
  const at = (match: (line: string) => boolean, last = false) => {
    const lines = controller.timeline.filter((t) => match(t.line));
    const hit = last ? lines.at(-1) : lines[0];
    return hit ? Number(seconds(hit.at - started)) : undefined;
  };
  const applied = (l: string) => l.includes('"applied IAM changes"');
  const phases = {
    cachesSynced: at((l) => l.includes('"caches synced"')),
    firstAccountApplied: at(applied),
    lastAccountApplied: at(applied, true),
    accountsApplied: controller.timeline.filter((t) => applied(t.line)).length,
  };
  const controllerPeakRss = await peakRssMiB(controller.child.pid ?? 0);
  // CPU seconds of each process while the operator converged (the measured bounds).
  const cpu = cpuSince(
    cpuAtOperatorStart,
    await cpuOf({
      controller: controller.child.pid,
      moto: moto.pid,
      kubeApiServer: env.apiServer.pid,
    }),
  );
  const convergeLoad = operatorLoad.stop();
  // Writes to the API server while converging (the Account, PermissionSet and
  // AccountAssignment status reports), which share the machine with moto.
  const apiWrites = writesSince(writesAtOperatorStart, await identityCenterWrites(env));
  const calls = await callsByOperation(controller);
  const reconcileResults = Object.fromEntries(
    await Promise.all(
      ["success", "requeue", "error", "terminal"].map(
        async (result) =>
          [
            result,
            await metricSum(controller, (l) =>
              l.startsWith(`idc_reconcile_total{controller="account",result="${result}"}`),
            ),
          ] as const,
      ),
    ),
  );
  const operatorProxy = proxy &&
    proxyBefore && {
      requests: proxy.count(() => true) - proxyBefore.requests,
      throttled:
        proxy.count(() => true) - proxyBefore.requests - (proxy.forwarded - proxyBefore.forwarded),
    };
  const firstWrites = await writes(controller);
  const saml = await samlWrites(controller);
  await controller.stop("SIGTERM");
  // BENCH_KEEP_LOG=<file> keeps the controller's log (the work folder is removed at the end).
  if (process.env.BENCH_KEEP_LOG) await copyFile(controller.logFile, process.env.BENCH_KEEP_LOG);
  // A second full re-check of every account: a fresh controller (a restart, or a replica that
  // takes over) reconciles each account once; nothing changed, so it must write nothing.
  // BENCH_RECHECK=0 skips it (at full size it takes about as long as the baseline).
  let recheck: { writes: number; ms: number } | undefined;
  if (process.env.BENCH_RECHECK !== "0") {
    const recheckStart = Date.now();
    const second = await startController("bench-recheck");
    // (Its metrics endpoint answers a moment after the process starts.)
    while ((await accountReconciles(second).catch(() => 0)) < ACCOUNTS) await sleep(500);
    recheck = { ms: Date.now() - recheckStart, writes: await writes(second) };
    await second.stop("SIGTERM");
  }
  const sum = (filter: (k: string) => boolean) =>
    Object.entries(calls)
      .filter(([k]) => filter(k))
      .reduce((n, [, v]) => n + v, 0);
  console.log(
    JSON.stringify({
      accounts: ACCOUNTS,
      permissionSets: PERMISSION_SETS,
      roles: total,
      throttle: THROTTLE,
      controllerNodeOptions: CONTROLLER_NODE_OPTIONS,
      setupSeconds: Number(seconds(setupMs)),
      convergeSeconds: Number(seconds(convergeMs)),
      baselineSeconds: Number(seconds(baselineMs)),
      ratio: Number((convergeMs / baselineMs).toFixed(2)),
      roleWriteCalls: firstWrites - saml,
      minimumRoleWriteCalls: total * MIN_WRITES_PER_ROLE,
      samlProviderWriteCalls: saml,
      ...(recheck
        ? {
            secondResyncWriteCalls: recheck.writes,
            secondResyncSeconds: Number(seconds(recheck.ms)),
          }
        : {}),
      // Calls (SDK commands, retries not counted) until convergence, by operation.
      controllerCalls: {
        iamReads: sum((k) => /^iam:(Get|List)/.test(k)),
        iamWrites: sum((k) => k.startsWith("iam:") && !/^iam:(Get|List)/.test(k)),
        sts: sum((k) => k.startsWith("sts:")),
        byOperation: calls,
      },
      accountReconciles: reconcileResults,
      phases,
      apiServerWrites: apiWrites,
      baselineCalls,
      // HTTP requests through the proxy (retries included) and how many were throttled.
      ...(baselineProxy ? { baselineRequests: baselineProxy } : {}),
      ...(operatorProxy ? { controllerRequests: operatorProxy } : {}),
      controllerPeakRssMiB: Math.round(controllerPeakRss),
      cpuSeconds: { converge: cpu, baseline: baselineCpu },
      loadAverage: { baseline: baselineLoad, converge: convergeLoad },
    }),
  );
} finally {
  await proxy?.stop();
  await env.stop();
}
