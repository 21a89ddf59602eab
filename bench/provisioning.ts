// Benchmark (not a test): 30 accounts x 20 permission sets, every pair assigned (600 roles), on
// moto. Reports the controller's time to converge, its IAM write calls against the minimum, the
// writes of a second full re-check, and a baseline in the same run: a plain script that makes
// exactly the minimal write calls with the AWS SDK at the same concurrency, with no reads and
// no Kubernetes.
//
//   npm run bench:provisioning     (BENCH_ACCOUNTS=30 BENCH_PERMISSION_SETS=20 by default)
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  CreateSAMLProviderCommand,
  PutRolePolicyCommand,
  type IAMClient,
} from "@aws-sdk/client-iam";
import { CustomObjectsApi } from "@kubernetes/client-node";
import {
  motoControllerEnv,
  startControllerProcess,
  type ControllerProcess,
} from "../test/harness/controller-process.ts";
import { createNamespace, customObjects } from "../test/harness/k8s.ts";
import { chartControllerKubeconfig } from "../test/harness/chart.ts";
import { repoRoot } from "../test/harness/paths.ts";
import { mapLimit } from "../src/util/concurrency.ts";
import {
  LoadSampler,
  peakRssMiB,
  processTreeCpuSeconds,
  seconds,
  startBenchEnvironment,
} from "./support.ts";

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 30);
const PERMISSION_SETS = Number(process.env.BENCH_PERMISSION_SETS ?? 20);
const ACCOUNT_WORKERS = 8;
const PER_ACCOUNT = 4;
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
      l.startsWith("idc_aws_calls_total{") &&
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

const env = await startBenchEnvironment({ moto: true });
try {
  const { moto } = env;
  // Warm every account first (moto loads AWS managed policies into an account on first use).
  const controllerAccounts = Array.from({ length: ACCOUNTS }, (_, i) => accountId(1, i + 1));
  const baselineAccounts = Array.from({ length: ACCOUNTS }, (_, i) => accountId(2, i + 1));
  await mapLimit([...controllerAccounts, ...baselineAccounts], 4, (id) =>
    moto.createMemberAccount(id),
  );

  // Baseline: the minimal writes, same concurrency (8 accounts at a time, 4 roles per account).
  const load = new LoadSampler();
  const baselineStart = Date.now();
  await mapLimit(baselineAccounts, ACCOUNT_WORKERS, async (id) => {
    const iam: IAMClient = moto.iam(await moto.assumeInto(id));
    const provider = await iam.send(
      new CreateSAMLProviderCommand({
        Name: "Baseline",
        SAMLMetadataDocument: "<EntityDescriptor/>".padEnd(1200, " "),
      }),
    );
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
    });
  });
  const baselineMs = Date.now() - baselineStart;

  // The operator: declare everything, then start the controller and time convergence.
  const kc = env.kubeConfig();
  await createNamespace(kc, "identity-center-operator");
  const objects = customObjects(kc);
  await objects.create("identitycenters", "IdentityCenter", "default", {
    portal: { hostname: "sso.example.com" },
  });
  for (const [i, id] of controllerAccounts.entries()) {
    await objects.create("accounts", "Account", `account-${String(i)}`, { accountId: id });
    await objects.setLabels("accounts", `account-${String(i)}`, { ou: "bench" });
  }
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
  const api = kc.makeApiClient(CustomObjectsApi);
  const cpuNow = async (controllerPid: number | undefined): Promise<Record<string, number>> =>
    Object.fromEntries(
      await Promise.all(
        Object.entries({
          controller: controllerPid,
          moto: moto.pid,
          kubeApiServer: env.apiServer.pid,
        }).map(async ([name, pid]) => [name, pid ? await processTreeCpuSeconds(pid) : 0] as const),
      ),
    );
  const cpuAtOperatorStart = await cpuNow(undefined);
  const started = Date.now();
  const controller = await startControllerProcess({
    // As the Helm chart's ServiceAccount, with its RBAC.
    kubeconfig: await chartControllerKubeconfig(env),
    workDir: env.workDir,
    identity: "bench",
    namespace: "identity-center-operator",
    entry: path.join(repoRoot, "dist/cli.js"),
    args: [
      "--leader-elect=false",
      `--account-workers=${String(ACCOUNT_WORKERS)}`,
      `--aws-concurrency=${String(PER_ACCOUNT)}`,
      "--resync-period=20s",
      "--log-level=warn",
    ],
    env: motoControllerEnv(moto.managementCredentials, moto.endpoint),
  });
  const total = ACCOUNTS * PERMISSION_SETS;
  for (;;) {
    const list = (await api.listClusterCustomObject({
      group: "identitycenter.dev",
      version: "v1alpha1",
      plural: "accounts",
    })) as {
      items: { status?: { roles?: { state: string }[] } }[];
    };
    const provisioned = list.items.reduce(
      (n, a) => n + (a.status?.roles ?? []).filter((r) => r.state === "Provisioned").length,
      0,
    );
    if (provisioned === total) break;
    if (Date.now() - started > 1_800_000)
      throw new Error(`only ${String(provisioned)} of ${String(total)} roles after 30 minutes`);
    await sleep(200);
  }
  const convergeMs = Date.now() - started;
  const controllerPeakRss = await peakRssMiB(controller.child.pid ?? 0);
  const cpuAtConverge = await cpuNow(controller.child.pid);
  // CPU seconds of each process while the operator converged (the measured bounds).
  const cpu = Object.fromEntries(
    Object.entries(cpuAtConverge).map(([k, v]) => [
      k,
      Number((v - (cpuAtOperatorStart[k] ?? 0)).toFixed(1)),
    ]),
  );
  const firstWrites = await writes(controller);
  const saml = await samlWrites(controller);
  const reconciles = await accountReconciles(controller);
  while ((await accountReconciles(controller)) < reconciles + ACCOUNTS) await sleep(500);
  const resyncWrites = (await writes(controller)) - firstWrites;
  await controller.stop("SIGTERM");
  console.log(
    JSON.stringify({
      accounts: ACCOUNTS,
      permissionSets: PERMISSION_SETS,
      roles: total,
      convergeSeconds: Number(seconds(convergeMs)),
      baselineSeconds: Number(seconds(baselineMs)),
      ratio: Number((convergeMs / baselineMs).toFixed(2)),
      roleWriteCalls: firstWrites - saml,
      minimumRoleWriteCalls: total * MIN_WRITES_PER_ROLE,
      samlProviderWriteCalls: saml,
      secondResyncWriteCalls: resyncWrites,
      controllerPeakRssMiB: Math.round(controllerPeakRss),
      cpuSeconds: cpu,
      loadAverage: load.stop(),
    }),
  );
} finally {
  await env.stop();
}
