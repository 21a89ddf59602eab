import { ListAttachedRolePoliciesCommand } from "@aws-sdk/client-iam";
import { EventsV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chartControllerKubeconfig } from "../../harness/chart.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import {
  motoControllerEnv,
  startControllerProcess,
  type ControllerProcess,
} from "../../harness/controller-process.ts";
import { FaultProxy } from "../../harness/fault-proxy.ts";
import { createNamespace, customObjects, readyOf } from "../../harness/k8s.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { waitFor } from "../../harness/wait.ts";

const NS = "identity-center-operator";
const ACCOUNT = "444444444444";
const DARK = "666666666666";
const DENIED = "777777777777";

describe("AWS throttling, 5xx, black-holed and refused accounts", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles(), moto: true });
  let controller: ControllerProcess;
  let proxy: FaultProxy;

  beforeAll(async () => {
    const { moto } = env();
    for (const id of [ACCOUNT, DARK, DENIED]) await moto.createMemberAccount(id);
    proxy = await FaultProxy.start(moto.endpoint, [
      { action: "CreateRole", times: 3, status: 400, code: "Throttling" },
      { action: "AttachRolePolicy", times: 2, status: 500, code: "ServiceFailure" },
      // An account behind a black hole: its requests are accepted and never answered.
      { account: DARK, times: Infinity, fault: "blackHole" },
      {
        action: "AssumeRole",
        bodyContains: `arn:aws:iam::${DENIED}:`,
        times: 1000,
        status: 403,
        code: "AccessDenied",
      },
    ]);
    const kc = env().kubeConfig();
    await createNamespace(kc, NS);
    const objects = customObjects(kc);
    await objects.create("identitycenters", "IdentityCenter", "default", {
      portal: { hostname: "sso.example.com" },
    });
    // The black-holed and the refused account come first, so they are picked up first.
    await objects.create("accounts", "Account", "dark", { accountId: DARK });
    await objects.create("accounts", "Account", "denied", { accountId: DENIED });
    await objects.create("accounts", "Account", "flaky", { accountId: ACCOUNT });
    await objects.create("permissionsets", "PermissionSet", "read-only", {
      managedPolicies: ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    });
    await objects.create("accountassignments", "AccountAssignment", "a", {
      principal: { kind: "Group", name: "g" },
      permissionSet: "read-only",
      accounts: ["flaky", "dark", "denied"],
    });
    controller = await startControllerProcess({
      kubeconfig: await chartControllerKubeconfig(env()),
      workDir: env().workDir,
      identity: "faults",
      namespace: NS,
      // Short timeouts keep the test quick; the defaults are 5 s and 15 s.
      args: ["--leader-elect=false", "--aws-connect-timeout=1s", "--aws-request-timeout=1s"],
      env: motoControllerEnv(moto.managementCredentials, proxy.url),
    });
    await waitFor("the controller to be ready", () => controller.ready());
  });
  afterAll(async () => {
    try {
      await controller.stop("SIGTERM");
    } finally {
      await proxy.stop();
    }
  });

  it("retries throttled and failed calls with backoff and provisions the role, while a black-holed account holds its requests", async () => {
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
    // The black hole swallowed requests of the dark account meanwhile, and it is not Ready.
    expect(proxy.history.some((f) => f.fault === "blackHole" && f.account === DARK)).toBe(true);
    expect(readyOf(await objects.get("accounts", "dark"))?.status).not.toBe("True");
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

  it("reports a black-holed account (TCP accepts, never answers) as Unreachable instead of hanging a worker, and recovers when the black hole ends", async () => {
    const objects = customObjects(env().kubeConfig());
    await expect
      .poll(async () => readyOf(await objects.get("accounts", "dark")), { timeout: 45_000 })
      .toMatchObject({
        status: "False",
        reason: "Unreachable",
        message: expect.stringContaining("requestTimeout") as unknown,
      });

    // The route comes back: the next retry assumes the role and provisions it.
    proxy.setRules([
      {
        action: "AssumeRole",
        bodyContains: `arn:aws:iam::${DENIED}:`,
        times: 1000,
        status: 403,
        code: "AccessDenied",
      },
    ]);
    await expect
      .poll(async () => readyOf(await objects.get("accounts", "dark"))?.status, { timeout: 60_000 })
      .toBe("True");
    const roles = (await objects.get("accounts", "dark")).status?.roles as {
      state: string;
      roleName: string;
    }[];
    expect(roles.map((r) => r.state)).toEqual(["Provisioned"]);
    const iam = env().moto.iam(await env().moto.assumeInto(DARK));
    const attached = await iam.send(
      new ListAttachedRolePoliciesCommand({ RoleName: roles[0]?.roleName ?? "" }),
    );
    expect(attached.AttachedPolicies?.map((p) => p.PolicyArn)).toEqual([
      "arn:aws:iam::aws:policy/ReadOnlyAccess",
    ]);
  });

  it("reports an account whose access role cannot be assumed, with a Warning event", async () => {
    const objects = customObjects(env().kubeConfig());
    await expect
      .poll(async () => readyOf(await objects.get("accounts", "denied")), { timeout: 30_000 })
      .toMatchObject({
        status: "False",
        reason: "AccessDenied",
        message: expect.stringContaining(
          `arn:aws:iam::${DENIED}:role/OrganizationAccountAccessRole`,
        ) as unknown,
      });
    const events = await env()
      .kubeConfig()
      .makeApiClient(EventsV1Api)
      .listNamespacedEvent({ namespace: "default" });
    expect(
      events.items.some(
        (e) =>
          e.regarding?.name === "denied" && e.reason === "AccessDenied" && e.type === "Warning",
      ),
    ).toBe(true);
    const assignment = await objects.get("accountassignments", "a");
    expect(readyOf(assignment)?.status).toBe("False");
  });
});
