import {
  AddRoleToInstanceProfileCommand,
  CreateInstanceProfileCommand,
  CreatePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  RemoveRoleFromInstanceProfileCommand,
  type IAMClient,
} from "@aws-sdk/client-iam";
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
const A = "111111111111";
const B = "222222222222";
const poll = { timeout: 30_000, interval: 250 };

type RoleRow = {
  permissionSet: string;
  roleName?: string;
  state: string;
  reason?: string;
  message?: string;
};
type Removal = { roleName: string; state: string; reason: string; message: string };

const INLINE = {
  Version: "2012-10-17",
  Statement: [
    { Sid: "Reports", Effect: "Allow", Action: ["s3:GetObject"], Resource: "arn:aws:s3:::r/*" },
  ],
};
const APP_SPEC = {
  name: "App",
  description: "The app team",
  sessionDuration: "PT2H",
  managedPolicies: ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
  customerManagedPolicies: [{ name: "AppKms", path: "/app/" }],
  inlinePolicy: INLINE,
  permissionsBoundary: { managedPolicyArn: "arn:aws:iam::aws:policy/PowerUserAccess" },
  tags: { team: "app" },
};
// Twelve AWS managed policies moto loads: more than IAM's default of 10 per role.
const TWELVE_POLICIES = [
  "ReadOnlyAccess",
  "job-function/ViewOnlyAccess",
  "IAMReadOnlyAccess",
  "AmazonS3ReadOnlyAccess",
  "AmazonEC2ReadOnlyAccess",
  "AmazonDynamoDBReadOnlyAccess",
  "AmazonSQSReadOnlyAccess",
  "AmazonSNSReadOnlyAccess",
  "CloudWatchReadOnlyAccess",
  "AmazonRDSReadOnlyAccess",
  "AWSCloudTrail_ReadOnlyAccess",
  "AmazonRoute53ReadOnlyAccess",
].map((p) => `arn:aws:iam::aws:policy/${p}`);

const isIamWrite = (action: string) =>
  !/^(Get|List)/.test(action) &&
  action !== "AssumeRole" &&
  action !== "" &&
  action !== "GetCallerIdentity";

describe(
  "fail-safe provisioning: an invalid edit freezes, only a deliberate removal removes",
  {
    timeout: 150_000,
  },
  () => {
    const env = useTestEnvironment({ crdFiles: operatorCrdFiles(), moto: true });
    let controller: ControllerProcess;
    let proxy: FaultProxy;
    let objects: ReturnType<typeof customObjects>;
    const iam = new Map<string, IAMClient>();
    const iamOf = (id: string) => {
      const client = iam.get(id);
      if (!client) throw new Error(`no IAM client for ${id}`);
      return client;
    };

    const rowOf = async (account: string, ps: string) =>
      (((await objects.get("accounts", account)).status?.roles ?? []) as RoleRow[]).find(
        (r) => r.permissionSet === ps,
      );
    const accountReconciles = async () => {
      const text = await fetch(`${controller.healthUrl}/metrics`).then((r) => r.text());
      return text
        .split("\n")
        .filter((l) => l.startsWith('idc_reconcile_total{controller="account"'))
        .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
    };
    /** Waits until every account has been re-checked at least `rounds` more times. */
    const reChecks = async (rounds: number) => {
      const start = await accountReconciles();
      await waitFor(
        `${String(rounds)} re-checks`,
        async () => (await accountReconciles()) >= start + rounds * 2,
        30_000,
      );
    };

    /** Everything IAM says about a role, read back with the SDK, request ids left out. */
    async function snapshot(accountId: string, roleName: string): Promise<string> {
      const client = iamOf(accountId);
      const strip = <T extends { $metadata?: unknown }>(out: T) => ({
        ...out,
        $metadata: undefined,
      });
      const found = await client.send(new GetRoleCommand({ RoleName: roleName })).then(
        (r) => r,
        (err: unknown) => {
          if (err instanceof Error && /^NoSuchEntity/.test(err.name)) return undefined;
          throw err;
        },
      );
      if (!found) return `no role ${roleName} in ${accountId}`;
      const role = strip(found);
      const attached = strip(
        await client.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName })),
      );
      const names = await client.send(new ListRolePoliciesCommand({ RoleName: roleName }));
      const inline = await Promise.all(
        (names.PolicyNames ?? []).map(async (PolicyName) =>
          strip(await client.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName }))),
        ),
      );
      const tags = strip(await client.send(new ListRoleTagsCommand({ RoleName: roleName })));
      return JSON.stringify({ role, attached, names: strip(names), inline, tags });
    }

    const ownedRoleNames = async (accountId: string) =>
      (
        (await iamOf(accountId).send(new ListRolesCommand({ PathPrefix: "/identitycenter/" })))
          .Roles ?? []
      )
        .map((r) => r.RoleName ?? "")
        .sort();

    let roleName = "";
    let baseline = "";

    /** Waits until the app pair is provisioned in production again, as it was at the start. */
    async function provisioned(): Promise<void> {
      await expect
        .poll(() => rowOf("production", "app"), poll)
        .toMatchObject({
          state: "Provisioned",
        });
      await expect
        .poll(async () => readyOf(await objects.get("accounts", "production"))?.status, poll)
        .toBe("True");
    }

    /**
     * Applies a bad edit, lets the controller act on it and re-check every account three more
     * times, and checks the role in IAM is byte-for-byte what it was and the status says why;
     * then undoes the edit and checks the pair is provisioned again, still unchanged.
     */
    async function expectFrozen(
      edit: () => Promise<unknown>,
      reason: string,
      message: string | RegExp,
      undo: () => Promise<unknown>,
    ): Promise<void> {
      await provisioned();
      const before = await snapshot(A, roleName);
      try {
        await edit();
        await reChecks(3);
        expect(await snapshot(A, roleName)).toBe(before);
        await expect
          .poll(() => rowOf("production", "app"), poll)
          .toMatchObject({
            state: "Failed",
            reason,
            roleName,
            message: expect.stringMatching(message) as unknown,
          });
        await expect
          .poll(async () => readyOf(await objects.get("accounts", "production")), poll)
          .toMatchObject({ status: "False", reason: "RolesFailed" });
      } finally {
        // Undone even when the test fails, so the next test starts from a provisioned pair.
        await undo();
      }
      await provisioned();
      expect(await snapshot(A, roleName)).toBe(before);
    }

    beforeAll(async () => {
      const { moto } = env();
      proxy = await FaultProxy.start(moto.endpoint, []);
      const kc = env().kubeConfig();
      await createNamespace(kc, NS);
      objects = customObjects(kc);
      for (const id of [A, B]) iam.set(id, await moto.createMemberAccount(id));
      for (const id of [A, B]) {
        await iamOf(id).send(
          new CreatePolicyCommand({
            PolicyName: "AppKms",
            Path: "/app/",
            PolicyDocument: JSON.stringify({
              Version: "2012-10-17",
              Statement: [{ Effect: "Allow", Action: "kms:Decrypt", Resource: "*" }],
            }),
          }),
        );
      }
      await objects.create("identitycenters", "IdentityCenter", "default", {
        portal: { hostname: "sso.example.com" },
      });
      await objects.create("permissionsets", "PermissionSet", "app", APP_SPEC);
      await objects.create("groups", "Group", "app-team", { members: [] });
      await objects.create("accounts", "Account", "production", { accountId: A });
      await objects.create("accounts", "Account", "staging", { accountId: B });
      await objects.create("accountassignments", "AccountAssignment", "app-team", {
        principal: { kind: "Group", name: "app-team" },
        permissionSet: "app",
        accounts: ["production", "staging"],
      });
      controller = await startControllerProcess({
        kubeconfig: await chartControllerKubeconfig(env()),
        workDir: env().workDir,
        identity: "fail-safe",
        namespace: NS,
        args: ["--resync-period=2s", "--leader-elect=false", "--portal-workload=false"],
        env: motoControllerEnv(moto.managementCredentials, proxy.url),
      });
      await waitFor("the controller to be ready", () => controller.ready());
      await waitFor(
        "the app role in production",
        async () => (await rowOf("production", "app"))?.state === "Provisioned",
        60_000,
      );
      roleName = (await rowOf("production", "app"))?.roleName ?? "";
      baseline = await snapshot(A, roleName);
    });
    afterAll(async () => {
      try {
        await controller.stop("SIGTERM");
      } finally {
        await proxy.stop();
      }
    });

    it("provisions the pair the other tests edit", () => {
      expect(roleName).toMatch(/^IdC_App_[0-9a-f]{16}$/);
      expect(baseline).toContain("AppKms");
      expect(baseline).toContain("IdentityCenterInline");
      expect(baseline).toContain('"team"');
    });

    it("keeps the role when the inline policy is made too large (it used to be deleted in every account)", async () => {
      await expectFrozen(
        () =>
          objects.patchSpec("permissionsets", "app", {
            inlinePolicy: {
              Version: "2012-10-17",
              Statement: [{ Effect: "Allow", Action: `s3:${"x".repeat(11_000)}`, Resource: "*" }],
            },
          }),
        "InvalidPolicy",
        /limit is 10240; the role is kept|limit is 10240/,
        () => objects.patchSpec("permissionsets", "app", { inlinePolicy: INLINE }),
      );
      expect(await ownedRoleNames(B)).toContain(roleName);
    });

    it("keeps the role when the inline policy is malformed (a statement without an action)", async () => {
      await expectFrozen(
        () =>
          objects.patchSpec("permissionsets", "app", {
            inlinePolicy: {
              Version: "2012-10-17",
              Statement: [{ Effect: "Allow", Resource: "*" }],
            },
          }),
        "InvalidPolicy",
        /exactly one of Action or NotAction/,
        () => objects.patchSpec("permissionsets", "app", { inlinePolicy: INLINE }),
      );
    });

    it("keeps the role when IAM refuses the inline policy (MalformedPolicyDocument), and does not send it again", async () => {
      let putsAfterRefusal = 0;
      let putsBeforeUndo = 0;
      await expectFrozen(
        async () => {
          // IAM refuses an action without a service prefix; the other edits must not land either.
          await objects.patchSpec("permissionsets", "app", {
            inlinePolicy: {
              Version: "2012-10-17",
              Statement: [{ Effect: "Allow", Action: "GetObject", Resource: "*" }],
            },
            tags: { team: "app", cost: "123" },
            managedPolicies: [
              "arn:aws:iam::aws:policy/ReadOnlyAccess",
              "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
            ],
          });
          for (const account of ["production", "staging"]) {
            await expect.poll(() => rowOf(account, "app"), poll).toMatchObject({ state: "Failed" });
          }
          putsAfterRefusal = proxy.seen.get("PutRolePolicy") ?? 0;
        },
        "IamRefused",
        /MalformedPolicyDocument/,
        async () => {
          putsBeforeUndo = proxy.seen.get("PutRolePolicy") ?? 0;
          await objects.patchSpec("permissionsets", "app", {
            inlinePolicy: INLINE,
            tags: APP_SPEC.tags,
            managedPolicies: APP_SPEC.managedPolicies,
          });
        },
      );
      // Refused once per account, then not sent again while the permission set stayed as it was.
      expect(putsBeforeUndo).toBe(putsAfterRefusal);
    });

    it("keeps the role when a customer managed policy is added that the account lacks", async () => {
      await expectFrozen(
        () =>
          objects.patchSpec("permissionsets", "app", {
            customerManagedPolicies: [
              ...APP_SPEC.customerManagedPolicies,
              { name: "Missing", path: "/" },
            ],
          }),
        "PolicyNotFound",
        new RegExp(`customer managed policy arn:aws:iam::${A}:policy/Missing does not exist`),
        () =>
          objects.patchSpec("permissionsets", "app", {
            customerManagedPolicies: APP_SPEC.customerManagedPolicies,
          }),
      );
    });

    it("keeps the role when an AWS managed policy that does not exist is added (unresolvable reference)", async () => {
      await expectFrozen(
        () =>
          objects.patchSpec("permissionsets", "app", {
            managedPolicies: [...APP_SPEC.managedPolicies, "arn:aws:iam::aws:policy/NoSuchPolicy"],
          }),
        "PolicyNotFound",
        /AWS managed policy arn:aws:iam::aws:policy\/NoSuchPolicy does not exist/,
        () =>
          objects.patchSpec("permissionsets", "app", { managedPolicies: APP_SPEC.managedPolicies }),
      );
    });

    it("keeps the role when the permission set would exceed the account's policies-per-role quota", async () => {
      await expectFrozen(
        () =>
          objects.patchSpec("permissionsets", "app", {
            managedPolicies: TWELVE_POLICIES,
            customerManagedPolicies: [],
          }),
        "QuotaExceeded",
        /13 managed policies|12 managed policies/,
        () =>
          objects.patchSpec("permissionsets", "app", {
            managedPolicies: APP_SPEC.managedPolicies,
            customerManagedPolicies: APP_SPEC.customerManagedPolicies,
          }),
      );
    });

    it("keeps the role when the assignment is edited to a permission set that does not exist", async () => {
      await expectFrozen(
        () => objects.patchSpec("accountassignments", "app-team", { permissionSet: "ap" }),
        "PermissionSetNotFound",
        /PermissionSet "ap" does not exist; the role is kept/,
        () => objects.patchSpec("accountassignments", "app-team", { permissionSet: "app" }),
      );
      await expect
        .poll(async () => readyOf(await objects.get("accountassignments", "app-team")), poll)
        .toMatchObject({ status: "True" });
    });

    it("keeps the role when the assignment is edited to an account that does not exist", async () => {
      await expectFrozen(
        () =>
          objects.patchSpec("accountassignments", "app-team", {
            accounts: ["prodution", "staging"],
          }),
        "AccountNotFound",
        /no Account for prodution/,
        () =>
          objects.patchSpec("accountassignments", "app-team", {
            accounts: ["production", "staging"],
          }),
      );
    });

    it("changes nothing for a second Account object claiming the same AWS account, nor when it is deleted", async () => {
      await provisioned();
      const before = await snapshot(A, roleName);
      await objects.create("accounts", "Account", "production-copy", { accountId: A });
      try {
        await expect
          .poll(async () => readyOf(await objects.get("accounts", "production-copy")), poll)
          .toMatchObject({
            status: "False",
            reason: "DuplicateAccount",
            message: expect.stringContaining('Account "production" already manages') as unknown,
          });
        await reChecks(2);
        expect(await snapshot(A, roleName)).toBe(before);
      } finally {
        // Deleted even when the test fails, so the next test starts from one Account object.
        await objects.delete("accounts", "production-copy");
        await waitFor("the copy to be gone", () =>
          objects.get("accounts", "production-copy").then(
            () => false,
            () => true,
          ),
        );
      }
      await reChecks(1);
      expect(await snapshot(A, roleName)).toBe(before);
      await provisioned();
    });

    it("keeps every role while the instance is missing, and says why", async () => {
      await provisioned();
      const before = await snapshot(A, roleName);
      await objects.delete("identitycenters", "default");
      try {
        await expect
          .poll(async () => readyOf(await objects.get("accounts", "production")), poll)
          .toMatchObject({ status: "False", reason: "WaitingForIdentityCenter" });
        await reChecks(1);
        expect(await snapshot(A, roleName)).toBe(before);
      } finally {
        await objects.create("identitycenters", "IdentityCenter", "default", {
          portal: { hostname: "sso.example.com" },
        });
      }
      await provisioned();
      expect(await snapshot(A, roleName)).toBe(before);
    });

    it("makes zero IAM writes and zero status writes on a re-check of a steady organisation", async () => {
      await provisioned();
      await expect
        .poll(async () => readyOf(await objects.get("permissionsets", "app"))?.status, poll)
        .toBe("True");
      await expect
        .poll(
          async () => readyOf(await objects.get("accountassignments", "app-team"))?.status,
          poll,
        )
        .toBe("True");
      // Let anything still settling land, then measure over further full re-checks.
      await reChecks(2);
      const versions = async () =>
        Promise.all(
          [
            ["accounts", "production"],
            ["accounts", "staging"],
            ["permissionsets", "app"],
            ["accountassignments", "app-team"],
            ["identitycenters", "default"],
          ].map(async ([plural, name]) => {
            const obj = await objects.get<{ metadata: { resourceVersion: string } }>(
              plural ?? "",
              name ?? "",
            );
            return `${plural ?? ""}/${name ?? ""}@${obj.metadata.resourceVersion}`;
          }),
        );
      const writesBefore = proxy.count(isIamWrite);
      const versionsBefore = await versions();
      const readsBefore = proxy.count((a) => /^(Get|List)/.test(a));
      await reChecks(3);
      expect(proxy.count((a) => /^(Get|List)/.test(a))).toBeGreaterThan(readsBefore);
      expect(proxy.count(isIamWrite)).toBe(writesBefore);
      expect(await versions()).toEqual(versionsBefore);
    });

    it("reports a removal IAM refuses (DeleteConflict) as Ready=False until it succeeds", async () => {
      await provisioned();
      const before = await snapshot(A, roleName);
      // Someone put the role in an instance profile: IAM refuses to delete it then.
      await iamOf(B).send(new CreateInstanceProfileCommand({ InstanceProfileName: "app-hosts" }));
      await iamOf(B).send(
        new AddRoleToInstanceProfileCommand({
          InstanceProfileName: "app-hosts",
          RoleName: roleName,
        }),
      );
      // A deliberate removal: staging is no longer targeted.
      await objects.patchSpec("accountassignments", "app-team", { accounts: ["production"] });
      await expect
        .poll(async () => readyOf(await objects.get("accounts", "staging")), poll)
        .toMatchObject({
          status: "False",
          reason: "RemovalFailed",
          message: expect.stringContaining(roleName) as unknown,
        });
      const removals = (await objects.get("accounts", "staging")).status?.removals as Removal[];
      expect(removals).toEqual([
        expect.objectContaining({ roleName, state: "Failed", reason: "DeleteConflict" }),
      ]);
      expect(await ownedRoleNames(B)).toContain(roleName);
      // Production was not touched by the edit.
      expect(await snapshot(A, roleName)).toBe(before);

      await iamOf(B).send(
        new RemoveRoleFromInstanceProfileCommand({
          InstanceProfileName: "app-hosts",
          RoleName: roleName,
        }),
      );
      await expect
        .poll(async () => readyOf(await objects.get("accounts", "staging"))?.status, {
          ...poll,
          timeout: 120_000,
        })
        .toBe("True");
      expect(await ownedRoleNames(B)).not.toContain(roleName);
      expect((await objects.get("accounts", "staging")).status?.removals).toEqual([]);
    });

    it("removes the role everywhere when the assignment is deleted (a deliberate removal)", async () => {
      await objects.delete("accountassignments", "app-team");
      await expect.poll(() => ownedRoleNames(A), poll).toEqual([]);
      await expect
        .poll(async () => readyOf(await objects.get("accounts", "production"))?.status, poll)
        .toBe("True");
    });
  },
);
