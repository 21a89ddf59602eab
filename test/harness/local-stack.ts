// `npm start`: the whole operator on this machine with nothing installed but what `npm ci` and
// the test harness provide: a local kube-apiserver + etcd, moto with the sample AWS accounts,
// the CRDs and the sample organisation, the controller, and the access portal on a loopback URL
// with a stand-in for the AWS console sign-in. It prints the portal URL and a setup link for
// the sample user alice. Ctrl-C stops everything.
//
// With IDC_USE_CLUSTER=1 it runs the controller against $KUBECONFIG and the AWS credentials of
// the environment instead, and the portal for that cluster's IdentityCenter on loopback.
//
// IDC_PORTAL_PORT sets the portal's port (default 8080).
import { CreatePolicyCommand } from "@aws-sdk/client-iam";
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { runInvite } from "../../src/commands/invite.ts";
import { resolveBinary } from "../../scripts/toolchain/binaries.ts";
import { startConsoleStandIn } from "./console-stand-in.ts";
import {
  motoControllerEnv,
  startControllerProcess,
  type ControllerProcess,
} from "./controller-process.ts";
import { operatorCrdFiles } from "./crds.ts";
import { TestEnvironment } from "./environment.ts";
import { createOperatorNamespaces } from "./k8s.ts";
import { createObjects, readObjects } from "./objects.ts";
import { repoRoot } from "./paths.ts";
import { startPortalProcess, type PortalProcess } from "./portal-process.ts";
import { waitFor } from "./wait.ts";

const NAMESPACE = "identity-center-operator";
const SAMPLE_USER = "alice";
const say = (text: string) => process.stdout.write(`${text}\n`);

function portalPort(): number {
  const port = Number(process.env.IDC_PORTAL_PORT ?? "8080");
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`IDC_PORTAL_PORT must be a port number, got "${String(port)}"`);
  return port;
}

function untilStopped(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
}

async function inviteLink(kubeconfig: string, userName: string): Promise<string> {
  let link = "";
  const code = await runInvite(
    [userName, `--kubeconfig=${kubeconfig}`, `--namespace=${NAMESPACE}`],
    (text) => (link += text),
  );
  if (code !== 0) throw new Error(`idc invite ${userName} failed: ${link}`);
  return link.trim();
}

async function stopAll(
  controller: ControllerProcess | undefined,
  portal: PortalProcess | undefined,
) {
  portal?.kill("SIGTERM");
  controller?.kill("SIGTERM");
  await Promise.all([portal?.exited, controller?.exited]);
}

async function runAgainstCluster(): Promise<void> {
  const kubeconfig = process.env.KUBECONFIG;
  if (!kubeconfig) throw new Error("IDC_USE_CLUSTER=1 needs KUBECONFIG");
  const workDir = process.cwd();
  const controller = await startControllerProcess({
    kubeconfig,
    workDir,
    identity: "local",
    namespace: NAMESPACE,
    args: ["--portal-workload=false"],
  });
  const portal = startPortalProcess({
    kubeconfig,
    workDir,
    namespace: NAMESPACE,
    port: portalPort(),
  });
  try {
    await waitFor(
      "the portal (it needs an IdentityCenter named default)",
      () => portal.ready(),
      120_000,
    );
    say(`controller and portal running against ${kubeconfig}`);
    say(`  portal:      ${portal.url}`);
    say(`  logs:        ${path.join(workDir, "controller-local.log")}, portal-default.log`);
    say(`  invite:      npm run idc -- invite <userName> --kubeconfig ${kubeconfig}`);
    say("Press Ctrl-C to stop.");
    await untilStopped();
  } finally {
    await stopAll(controller, portal);
  }
}

/** The sample IdentityCenter, pointed at this machine: portal on loopback, console stand-in. */
function localized(
  objects: KubernetesObject[],
  urls: { portal: string; signIn: string; sts: string },
): KubernetesObject[] {
  return objects.map((o) => {
    if (o.kind !== "IdentityCenter") return o;
    const ic = o as KubernetesObject & {
      spec: { portal: Record<string, unknown>; aws?: Record<string, unknown> };
    };
    return {
      ...ic,
      spec: {
        ...ic.spec,
        portal: { ...ic.spec.portal, externalUrl: urls.portal },
        aws: { ...ic.spec.aws, signInUrl: urls.signIn, stsEndpoint: urls.sts },
      },
    };
  });
}

async function runLocal(): Promise<void> {
  const port = portalPort();
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
  const standIn = await startConsoleStandIn({ stsEndpoint: env.moto.endpoint });
  let controller: ControllerProcess | undefined;
  let portal: PortalProcess | undefined;
  try {
    const kc = env.kubeConfig();
    await createOperatorNamespaces(kc, NAMESPACE);
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
    const portalUrl = `http://127.0.0.1:${String(port)}`;
    const samples = path.join(repoRoot, "manifests/samples");
    for (const file of (await readdir(samples)).filter((f) => f.endsWith(".yaml")).sort()) {
      const objects = await readObjects(path.join(samples, file));
      await createObjects(
        kc,
        localized(objects, { portal: portalUrl, signIn: standIn.url, sts: env.moto.endpoint }),
      );
    }
    // No kubelet runs here, so the portal is a local process rather than a Deployment.
    controller = await startControllerProcess({
      kubeconfig: env.kubeconfigPath,
      workDir: env.workDir,
      identity: "local",
      namespace: NAMESPACE,
      args: ["--leader-elect=false", "--resync-period=1m", "--portal-workload=false"],
      env: motoControllerEnv(env.moto.managementCredentials, env.moto.endpoint),
    });
    const started = controller;
    await waitFor("the controller", () => started.ready(), 60_000);
    portal = startPortalProcess({
      kubeconfig: env.kubeconfigPath,
      workDir: env.workDir,
      namespace: NAMESPACE,
      port,
    });
    const running = portal;
    await waitFor(`the portal on ${portalUrl}`, () => running.ready(), 90_000);
    const setupLink = await inviteLink(env.kubeconfigPath, SAMPLE_USER);
    say("");
    say("Identity Center Operator is running locally.");
    say(`  portal:      ${portalUrl}`);
    say(`  setup link:  ${setupLink}`);
    say(`               (${SAMPLE_USER}: set a password and scan the QR code, then sign in)`);
    say(`  console:     ${standIn.url} stands in for the AWS sign-in page (self-signed`);
    say(
      "               certificate: let the browser proceed); it checks the SAML response at moto",
    );
    say(`  kubeconfig:  ${env.kubeconfigPath}`);
    say(`  try:         kubectl --kubeconfig ${env.kubeconfigPath} get identity-center`);
    say(`  AWS (moto):  ${env.moto.endpoint}  (accounts 111111111111, 222222222222, 333333333333)`);
    say(`  metrics:     ${started.healthUrl}/metrics`);
    say(`  logs:        ${env.workDir}`);
    say("Press Ctrl-C to stop.");
    await untilStopped();
    say("stopping...");
  } finally {
    await stopAll(controller, portal);
    await standIn.close();
    await env.stop();
  }
  say("stopped.");
}

await (process.env.IDC_USE_CLUSTER === "1" ? runAgainstCluster() : runLocal());
