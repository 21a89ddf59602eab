// `npm start`: the whole operator on this machine with nothing installed but what `npm ci` and
// the test harness provide: a local kube-apiserver + etcd, moto with the sample AWS accounts,
// the CRDs and the sample organisation, and the controller. Ctrl-C stops everything.
//
// With KUBECONFIG and AWS credentials in the environment (IDC_USE_CLUSTER=1), it runs the
// controller against them instead.
import { CreatePolicyCommand } from "@aws-sdk/client-iam";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { resolveBinary } from "../test/harness/binaries.ts";
import { motoControllerEnv, startControllerProcess } from "../test/harness/controller-process.ts";
import { operatorCrdFiles } from "../test/harness/crds.ts";
import { TestEnvironment } from "../test/harness/environment.ts";
import { createNamespace } from "../test/harness/k8s.ts";
import { createObjects, readObjects } from "../test/harness/objects.ts";
import { repoRoot } from "../test/harness/paths.ts";
import { waitFor } from "../test/harness/wait.ts";

const NAMESPACE = "identity-center-operator";
const say = (text: string) => process.stdout.write(`${text}\n`);

async function runAgainstCluster(): Promise<void> {
  const controller = await startControllerProcess({
    kubeconfig: process.env.KUBECONFIG ?? "",
    workDir: process.cwd(),
    identity: "local",
    namespace: NAMESPACE,
    args: ["--leader-elect=false"],
  });
  say(`controller running against ${String(process.env.KUBECONFIG)}; log in controller-local.log`);
  await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
  controller.kill("SIGTERM");
  await controller.exited;
}

async function runLocal(): Promise<void> {
  say("starting kube-apiserver, etcd and moto (the first run builds them: several minutes)...");
  const [kubeApiServer, etcd, motoServer] = await Promise.all([
    resolveBinary("kube-apiserver"),
    resolveBinary("etcd"),
    resolveBinary("moto_server"),
  ]);
  const env = await TestEnvironment.start({
    binaries: { kubeApiServer, etcd, motoServer },
    moto: true,
    crdFiles: operatorCrdFiles(),
  });
  try {
    const kc = env.kubeConfig();
    await createNamespace(kc, NAMESPACE);
    // The sample accounts, as AWS Organizations would have made them.
    await env.moto.createMemberAccount("111111111111");
    await env.moto.createMemberAccount("222222222222");
    await env.moto.createMemberAccount("333333333333", "IdentityCenterOperatorAccess");
    const production = env.moto.iam(await env.moto.assumeInto("111111111111"));
    await production.send(
      new CreatePolicyCommand({
        PolicyName: "ReportsKmsDecrypt",
        Path: "/reports/",
        PolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "kms:Decrypt", Resource: "*" }],
        }),
      }),
    );
    const samples = path.join(repoRoot, "manifests/samples");
    for (const file of (await readdir(samples)).filter((f) => f.endsWith(".yaml")).sort()) {
      await createObjects(kc, await readObjects(path.join(samples, file)));
    }
    const controller = await startControllerProcess({
      kubeconfig: env.kubeconfigPath,
      workDir: env.workDir,
      identity: "local",
      namespace: NAMESPACE,
      args: ["--leader-elect=false", "--resync-period=1m"],
      env: motoControllerEnv(env.moto.managementCredentials, env.moto.endpoint),
    });
    await waitFor("the controller", () => controller.ready(), 60_000);
    say("");
    say("Identity Center Operator is running locally.");
    say(`  kubeconfig:  ${env.kubeconfigPath}`);
    say(`  try:         kubectl --kubeconfig ${env.kubeconfigPath} get identitycenter`);
    say(`  AWS (moto):  ${env.moto.endpoint}  (accounts 111111111111, 222222222222, 333333333333)`);
    say(`  metrics:     ${controller.healthUrl}/metrics`);
    say(`  logs:        ${env.workDir}`);
    say("Press Ctrl-C to stop.");
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    say("stopping...");
    controller.kill("SIGTERM");
    await controller.exited;
  } finally {
    await env.stop();
  }
}

await (process.env.IDC_USE_CLUSTER === "1" ? runAgainstCluster() : runLocal());
