import { ListAttachedRolePoliciesCommand } from "@aws-sdk/client-iam";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operatorCrdFiles } from "../../harness/crds.ts";
import {
  motoControllerEnv,
  startControllerProcess,
  type ControllerProcess,
} from "../../harness/controller-process.ts";
import { FaultProxy } from "../../harness/fault-proxy.ts";
import { createNamespace, customObjects } from "../../harness/k8s.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { waitFor } from "../../harness/wait.ts";

const NS = "identity-center-operator";
const ACCOUNT = "444444444444";

describe("AWS throttling and 5xx", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles(), moto: true });
  let controller: ControllerProcess;
  let proxy: FaultProxy;

  beforeAll(async () => {
    const { moto } = env();
    await moto.createMemberAccount(ACCOUNT);
    proxy = await FaultProxy.start(moto.endpoint, [
      { action: "CreateRole", times: 3, status: 400, code: "Throttling" },
      { action: "AttachRolePolicy", times: 2, status: 500, code: "ServiceFailure" },
    ]);
    const kc = env().kubeConfig();
    await createNamespace(kc, NS);
    const objects = customObjects(kc);
    await objects.create("identitycenters", "IdentityCenter", "default", {
      portal: { hostname: "sso.example.com" },
    });
    await objects.create("accounts", "Account", "flaky", { accountId: ACCOUNT });
    await objects.create("permissionsets", "PermissionSet", "read-only", {
      managedPolicies: ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    });
    await objects.create("accountassignments", "AccountAssignment", "a", {
      principal: { kind: "Group", name: "g" },
      permissionSet: "read-only",
      accounts: ["flaky"],
    });
    controller = await startControllerProcess({
      kubeconfig: env().kubeconfigPath,
      workDir: env().workDir,
      identity: "faults",
      namespace: NS,
      args: ["--leader-elect=false"],
      env: motoControllerEnv(moto.managementCredentials, proxy.url),
    });
    await waitFor("the controller to be ready", () => controller.ready());
  });
  afterAll(async () => {
    controller.kill("SIGTERM");
    await controller.exited;
    await proxy.stop();
  });

  it("retries throttled and failed calls with backoff and provisions the role", async () => {
    const objects = customObjects(env().kubeConfig());
    await expect
      .poll(
        async () =>
          (
            (await objects.get("accounts", "flaky")).status?.roles as
              { state: string }[] | undefined
          )?.[0]?.state,
        { timeout: 60_000 },
      )
      .toBe("Provisioned");
    expect(proxy.injected.get("CreateRole")).toBe(3);
    expect(proxy.injected.get("AttachRolePolicy")).toBe(2);
    const roleName =
      ((await objects.get("accounts", "flaky")).status?.roles as { roleName: string }[])[0]
        ?.roleName ?? "";
    const iam = env().moto.iam(await env().moto.assumeInto(ACCOUNT));
    const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }));
    expect(attached.AttachedPolicies?.map((p) => p.PolicyArn)).toEqual([
      "arn:aws:iam::aws:policy/ReadOnlyAccess",
    ]);
  });
});
