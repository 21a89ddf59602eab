import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetSAMLProviderCommand,
  ListAttachedRolePoliciesCommand,
  ListRolesCommand,
  ListSAMLProvidersCommand,
  UpdateAssumeRolePolicyCommand,
  type IAMClient,
} from "@aws-sdk/client-iam";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chartControllerKubeconfig } from "../../harness/chart.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import {
  motoControllerEnv,
  startControllerProcess,
  type ControllerProcess,
} from "../../harness/controller-process.ts";
import { createNamespace, customObjects, readyOf } from "../../harness/k8s.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { waitFor } from "../../harness/wait.ts";

const NS = "identity-center-operator";
const A = "111111111111";
const B = "222222222222";
const C = "333333333333";
const poll = { timeout: 60_000, interval: 250 };
const RESYNC = "3s";

type RoleRow = {
  permissionSet: string;
  roleName?: string;
  roleArn?: string;
  state: string;
  message?: string;
};

type AccountRow = { account: string; state: string };
const TRUST_ANYONE_IN_ACCOUNT = JSON.stringify({
  Version: "2012-10-17",
  Statement: [
    {
      Effect: "Allow",
      Principal: { AWS: "arn:aws:iam::123456789012:root" },
      Action: "sts:AssumeRole",
    },
  ],
});

describe("multi-account provisioning on moto", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles(), moto: true });
  let controller: ControllerProcess;
  let objects: ReturnType<typeof customObjects>;
  const iam = new Map<string, IAMClient>();

  async function startController(identity: string): Promise<ControllerProcess> {
    const { moto } = env();
    const p = await startControllerProcess({
      // The Helm chart's ServiceAccount and RBAC, as in a cluster.
      kubeconfig: await chartControllerKubeconfig(env()),
      workDir: env().workDir,
      identity,
      namespace: NS,
      // The portal workload has its own test (portal-workload.test.ts).
      args: [`--resync-period=${RESYNC}`, "--leader-elect=false", "--portal-workload=false"],
      env: motoControllerEnv(moto.managementCredentials, moto.endpoint),
    });
    await waitFor("the controller to be ready", () => p.ready());
    return p;
  }

  const rolesOf = async (account: string) =>
    ((await objects.get("accounts", account)).status?.roles ?? []) as RoleRow[];
  const roleRow = async (account: string, ps: string) =>
    (await rolesOf(account)).find((r) => r.permissionSet === ps);
  const ownedRoles = async (accountId: string) =>
    (
      (await iam.get(accountId)?.send(new ListRolesCommand({ PathPrefix: "/identitycenter/" })))
        ?.Roles ?? []
    )
      .map((r) => r.RoleName ?? "")
      .sort();
  const iamOf = (accountId: string) => {
    const client = iam.get(accountId);
    if (!client) throw new Error(`no IAM client for ${accountId}`);
    return client;
  };
  const writeCalls = async () => {
    const text = await fetch(`${controller.healthUrl}/metrics`).then((r) => r.text());
    return text
      .split("\n")
      .filter((l) => l.startsWith("idc_aws_calls_total{") && !/operation="(Get|List)/.test(l))
      .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
  };
  /** Account reconciles so far: each re-check of each account counts one. */
  const accountReconciles = async () => {
    const text = await fetch(`${controller.healthUrl}/metrics`).then((r) => r.text());
    return text
      .split("\n")
      .filter((l) => l.startsWith('idc_reconcile_total{controller="account"'))
      .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
  };

  beforeAll(async () => {
    const kc = env().kubeConfig();
    await createNamespace(kc, NS);
    objects = customObjects(kc);
    for (const id of [A, B, C]) iam.set(id, await env().moto.createMemberAccount(id));
    // The customer managed policy exists in A and B only.
    for (const id of [A, B]) {
      await iamOf(id).send(
        new CreatePolicyCommand({
          PolicyName: "ReportsKmsDecrypt",
          Path: "/reports/",
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
    await objects.create("permissionsets", "PermissionSet", "read-only", {
      name: "ReadOnlyAccess",
      managedPolicies: ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    });
    await objects.create("permissionsets", "PermissionSet", "reports", {
      name: "Reports",
      description: "Read reports",
      sessionDuration: "PT2H",
      managedPolicies: ["arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"],
      customerManagedPolicies: [{ name: "ReportsKmsDecrypt", path: "/reports/" }],
      inlinePolicy: {
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "Reports",
            Effect: "Allow",
            Action: ["s3:GetObject"],
            Resource: "arn:aws:s3:::reports/*",
          },
        ],
      },
      permissionsBoundary: { managedPolicyArn: "arn:aws:iam::aws:policy/PowerUserAccess" },
      tags: { team: "finance" },
    });
    const account = (
      name: string,
      accountId: string,
      labels: Record<string, string>,
      deletionPolicy = "Delete",
    ) =>
      objects
        .create("accounts", "Account", name, { accountId, deletionPolicy })
        .then(() => objects.setLabels("accounts", name, labels));
    await account("production", A, { ou: "workloads" });
    await account("staging", B, { ou: "workloads" });
    await account("security", C, { ou: "security" }, "Retain");
    await objects.create("accountassignments", "AccountAssignment", "auditors-read-only", {
      principal: { kind: "Group", name: "auditors" },
      permissionSet: "read-only",
      accountSelector: { matchLabels: { ou: "workloads" } },
    });
    await objects.create("accountassignments", "AccountAssignment", "carol-reports", {
      principal: { kind: "User", name: "carol" },
      permissionSet: "reports",
      accounts: ["production", "staging", C],
    });
    controller = await startController("provisioner");
  });
  afterAll(async () => {
    // Fails the file if the API server refused either controller run anything.
    await controller.stop("SIGTERM");
  });

  it("creates the signing identity and publishes it on the IdentityCenter", async () => {
    await expect
      .poll(async () => readyOf(await objects.get("identitycenters", "default"))?.status, poll)
      .toBe("True");
    const ic = await objects.get("identitycenters", "default");
    expect(ic.status).toMatchObject({
      entityId: "https://sso.example.com/saml/metadata",
      portalUrl: "https://sso.example.com",
    });
    expect(String(ic.status?.signingCertificate)).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const secret = await env()
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: "identitycenter-default-signing", namespace: NS });
    expect(secret.type).toBe("kubernetes.io/tls");
    expect(Buffer.from(secret.data?.["tls.key"] ?? "", "base64").toString()).toMatch(
      /BEGIN PRIVATE KEY/,
    );
  });

  it("provisions one role per (permission set, account) with trust, policies, boundary and tags", async () => {
    await expect
      .poll(() => roleRow("production", "reports"), poll)
      .toMatchObject({ state: "Provisioned" });
    await expect
      .poll(() => roleRow("staging", "read-only"), poll)
      .toMatchObject({ state: "Provisioned" });
    const row = await roleRow("production", "reports");
    const roleName = row?.roleName ?? "";
    expect(roleName).toMatch(/^IdC_Reports_[0-9a-f]{16}$/);
    const { Role } = await iamOf(A).send(new GetRoleCommand({ RoleName: roleName }));
    expect(Role?.Path).toBe("/identitycenter/");
    expect(Role?.Arn).toBe(row?.roleArn);
    expect(Role?.MaxSessionDuration).toBe(7200);
    expect(Role?.Description).toBe("Read reports");
    expect(Role?.PermissionsBoundary?.PermissionsBoundaryArn).toBe(
      "arn:aws:iam::aws:policy/PowerUserAccess",
    );
    const tags: Record<string, string | undefined> = Object.fromEntries(
      (Role?.Tags ?? []).map((t): [string, string | undefined] => [t.Key ?? "", t.Value]),
    );
    expect(tags).toMatchObject({
      team: "finance",
      "identitycenter.dev/managed-by": "identity-center-operator",
      "identitycenter.dev/instance": "default",
      "identitycenter.dev/permission-set": "reports",
    });
    const trust = JSON.parse(decodeURIComponent(Role?.AssumeRolePolicyDocument ?? "")) as {
      Statement: Record<string, unknown>[];
    };
    const samlArn = (await objects.get("accounts", "production")).status?.samlProviderArn;
    expect(samlArn).toBe(`arn:aws:iam::${A}:saml-provider/IdentityCenterOperator_default`);
    expect(trust.Statement[0]).toMatchObject({
      Effect: "Allow",
      Principal: { Federated: samlArn },
      Action: ["sts:AssumeRoleWithSAML", "sts:TagSession"],
      Condition: { StringEquals: { "SAML:aud": "https://signin.aws.amazon.com/saml" } },
    });
    const attached = await iamOf(A).send(
      new ListAttachedRolePoliciesCommand({ RoleName: roleName }),
    );
    expect((attached.AttachedPolicies ?? []).map((p) => p.PolicyArn).sort()).toEqual([
      `arn:aws:iam::${A}:policy/reports/ReportsKmsDecrypt`,
      "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
    ]);
    const inline = await iamOf(A).send(
      new GetRolePolicyCommand({ RoleName: roleName, PolicyName: "IdentityCenterInline" }),
    );
    expect(JSON.parse(decodeURIComponent(inline.PolicyDocument ?? ""))).toMatchObject({
      Statement: [{ Sid: "Reports", Action: ["s3:GetObject"] }],
    });
    // Exactly one role per pair, and the account that is not selected has no read-only role.
    expect(await ownedRoles(A)).toHaveLength(2);
    expect(await ownedRoles(B)).toHaveLength(2);
    expect(await roleRow("security", "read-only")).toBeUndefined();
  });

  it("keeps one SAML provider per account holding the IdP metadata", async () => {
    const providers = await iamOf(B).send(new ListSAMLProvidersCommand({}));
    expect(providers.SAMLProviderList).toHaveLength(1);
    const doc = await iamOf(B).send(
      new GetSAMLProviderCommand({ SAMLProviderArn: providers.SAMLProviderList?.[0]?.Arn ?? "" }),
    );
    const cert = String(
      (await objects.get("identitycenters", "default")).status?.signingCertificate,
    ).replace(/-----[A-Z ]+-----|\s/g, "");
    expect(doc.SAMLMetadataDocument).toContain(cert);
    expect(doc.SAMLMetadataDocument).toContain('entityID="https://sso.example.com/saml/metadata"');
  });

  it("fails only the pair whose customer managed policy is missing; other accounts proceed", async () => {
    await expect
      .poll(() => roleRow("security", "reports"), poll)
      .toMatchObject({
        state: "Failed",
        message: expect.stringContaining(
          `customer managed policy arn:aws:iam::${C}:policy/reports/ReportsKmsDecrypt does not exist`,
        ) as unknown,
      });
    expect(await ownedRoles(C)).toEqual([]);
    await expect
      .poll(async () => readyOf(await objects.get("permissionsets", "reports")), poll)
      .toMatchObject({ status: "False", reason: "ProvisioningFailed" });
    const ps = await objects.get("permissionsets", "reports");
    expect((ps.status?.accounts as AccountRow[]).map((r) => [r.account, r.state])).toEqual([
      ["production", "Provisioned"],
      ["security", "Failed"],
      ["staging", "Provisioned"],
    ]);
    await expect
      .poll(async () => readyOf(await objects.get("permissionsets", "read-only"))?.status, poll)
      .toBe("True");
    await expect
      .poll(
        async () =>
          (await objects.get("accountassignments", "auditors-read-only")).status?.accountCount,
        poll,
      )
      .toBe(2);
  });

  it("picks up a newly labelled account for a selector assignment", async () => {
    await objects.setLabels("accounts", "security", { ou: "workloads" });
    await expect
      .poll(() => roleRow("security", "read-only"), poll)
      .toMatchObject({ state: "Provisioned" });
    expect(await ownedRoles(C)).toHaveLength(1);
    await expect
      .poll(
        async () =>
          (await objects.get("accountassignments", "auditors-read-only")).status?.accountCount,
        poll,
      )
      .toBe(3);
  });

  it("repairs drift on the next re-check and leaves roles it does not own alone", async () => {
    const readOnly = (await roleRow("production", "read-only"))?.roleName ?? "";
    const reportsB = (await roleRow("staging", "reports"))?.roleName ?? "";
    // Unowned look-alikes: same name under another path, and our path without our tags.
    await iamOf(A).send(
      new CreateRoleCommand({
        RoleName: "hand-made",
        Path: "/identitycenter/",
        AssumeRolePolicyDocument: TRUST_ANYONE_IN_ACCOUNT,
      }),
    );
    // In C the Reports pair is failed (missing policy), so the operator has no role of that name.
    const reportsName = (await roleRow("production", "reports"))?.roleName ?? "";
    await iamOf(C).send(
      new CreateRoleCommand({
        RoleName: reportsName,
        Path: "/custom/",
        AssumeRolePolicyDocument: TRUST_ANYONE_IN_ACCOUNT,
      }),
    );
    await iamOf(A).send(
      new AttachRolePolicyCommand({
        RoleName: "hand-made",
        PolicyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess",
      }),
    );
    // Drift in roles we own.
    await iamOf(A).send(
      new DetachRolePolicyCommand({
        RoleName: readOnly,
        PolicyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess",
      }),
    );
    await iamOf(A).send(
      new UpdateAssumeRolePolicyCommand({
        RoleName: readOnly,
        PolicyDocument: TRUST_ANYONE_IN_ACCOUNT,
      }),
    );
    for (const arn of [
      `arn:aws:iam::${B}:policy/reports/ReportsKmsDecrypt`,
      "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
    ]) {
      await iamOf(B).send(new DetachRolePolicyCommand({ RoleName: reportsB, PolicyArn: arn }));
    }
    const { DeleteRolePolicyCommand } = await import("@aws-sdk/client-iam");
    await iamOf(B).send(
      new DeleteRolePolicyCommand({ RoleName: reportsB, PolicyName: "IdentityCenterInline" }),
    );
    await iamOf(B).send(new DeleteRoleCommand({ RoleName: reportsB }));

    await expect
      .poll(
        async () =>
          (
            await iamOf(A).send(new ListAttachedRolePoliciesCommand({ RoleName: readOnly }))
          ).AttachedPolicies?.map((p) => p.PolicyArn),
        poll,
      )
      .toEqual(["arn:aws:iam::aws:policy/ReadOnlyAccess"]);
    await expect
      .poll(
        async () =>
          decodeURIComponent(
            (await iamOf(A).send(new GetRoleCommand({ RoleName: readOnly }))).Role
              ?.AssumeRolePolicyDocument ?? "",
          ),
        poll,
      )
      .toContain("sts:AssumeRoleWithSAML");
    await expect
      .poll(
        async () =>
          (await iamOf(B).send(new GetRoleCommand({ RoleName: reportsB }))).Role?.RoleName,
        poll,
      )
      .toBe(reportsB);

    expect(
      (await iamOf(A).send(new GetRoleCommand({ RoleName: "hand-made" }))).Role?.RoleName,
    ).toBe("hand-made");
    expect(
      (await iamOf(A).send(new ListAttachedRolePoliciesCommand({ RoleName: "hand-made" })))
        .AttachedPolicies,
    ).toHaveLength(1);
    expect((await iamOf(C).send(new GetRoleCommand({ RoleName: reportsName }))).Role?.Path).toBe(
      "/custom/",
    );
  });

  it("makes zero IAM write calls on a full re-check when nothing changed", async () => {
    // Let the repairs land, then count writes across two more re-checks of all three accounts.
    await waitFor("repaired roles", async () =>
      (await rolesOf("staging")).every((r) => r.state === "Provisioned"),
    );
    const start = await accountReconciles();
    await waitFor("a full re-check", async () => (await accountReconciles()) >= start + 3, 30_000);
    const writes = await writeCalls();
    const reconciles = await accountReconciles();
    await waitFor(
      "two more full re-checks",
      async () => (await accountReconciles()) >= reconciles + 6,
      30_000,
    );
    expect(await writeCalls()).toBe(writes);
  });

  it("refuses an oversized inline policy before any AWS call", async () => {
    await objects.create("permissionsets", "PermissionSet", "huge", {
      inlinePolicy: {
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: `s3:${"x".repeat(11_000)}`, Resource: "*" }],
      },
    });
    await objects.create("accountassignments", "AccountAssignment", "huge-a", {
      principal: { kind: "User", name: "carol" },
      permissionSet: "huge",
      accounts: ["production"],
    });
    await expect
      .poll(async () => readyOf(await objects.get("permissionsets", "huge")), poll)
      .toMatchObject({
        status: "False",
        reason: "InvalidPolicy",
        message: expect.stringContaining(
          "non-whitespace characters; the limit is 10240",
        ) as unknown,
      });
    await expect.poll(() => roleRow("production", "huge"), poll).toMatchObject({ state: "Failed" });
    expect((await ownedRoles(A)).filter((n) => n.startsWith("IdC_huge"))).toEqual([]);
  });

  it("removes the role when the last assignment of a permission set goes", async () => {
    const names = await Promise.all(
      ["production", "staging", "security"].map(
        async (a) => (await roleRow(a, "read-only"))?.roleName,
      ),
    );
    await objects.delete("accountassignments", "auditors-read-only");
    for (const [i, id] of [A, B, C].entries()) {
      await expect
        .poll(async () => (await ownedRoles(id)).includes(names[i] ?? ""), poll)
        .toBe(false);
    }
  });

  it("completes a role that was only partly created when the controller was killed", async () => {
    await controller.stop("SIGKILL");
    const reportsA = (await roleRow("production", "reports"))?.roleName ?? "";
    // What a crash right after CreateRole leaves: the owned role without its policies.
    for (const arn of [
      `arn:aws:iam::${A}:policy/reports/ReportsKmsDecrypt`,
      "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
    ]) {
      await iamOf(A).send(new DetachRolePolicyCommand({ RoleName: reportsA, PolicyArn: arn }));
    }
    const { DeleteRolePolicyCommand } = await import("@aws-sdk/client-iam");
    await iamOf(A).send(
      new DeleteRolePolicyCommand({ RoleName: reportsA, PolicyName: "IdentityCenterInline" }),
    );
    controller = await startController("provisioner-2");
    await expect
      .poll(
        async () =>
          (await iamOf(A).send(new ListAttachedRolePoliciesCommand({ RoleName: reportsA })))
            .AttachedPolicies?.length,
        poll,
      )
      .toBe(2);
    await expect
      .poll(
        async () =>
          (
            await iamOf(A).send(
              new GetRolePolicyCommand({ RoleName: reportsA, PolicyName: "IdentityCenterInline" }),
            )
          ).PolicyName,
        poll,
      )
      .toBe("IdentityCenterInline");
  });

  it("rotating the signing key updates the SAML provider in every account, never duplicating it", async () => {
    const before = String(
      (await objects.get("identitycenters", "default")).status?.signingCertificate,
    );
    await env()
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .deleteNamespacedSecret({ name: "identitycenter-default-signing", namespace: NS });
    await objects.setLabels("identitycenters", "default", { "rotated-at": "1" });
    await expect
      .poll(
        async () =>
          String((await objects.get("identitycenters", "default")).status?.signingCertificate),
        poll,
      )
      .not.toBe(before);
    const after = String(
      (await objects.get("identitycenters", "default")).status?.signingCertificate,
    ).replace(/-----[A-Z ]+-----|\s/g, "");
    for (const id of [A, B]) {
      await expect
        .poll(async () => {
          const list = await iamOf(id).send(new ListSAMLProvidersCommand({}));
          const arn = list.SAMLProviderList?.[0]?.Arn ?? "";
          const doc = await iamOf(id).send(new GetSAMLProviderCommand({ SAMLProviderArn: arn }));
          return [list.SAMLProviderList?.length, doc.SAMLMetadataDocument?.includes(after)];
        }, poll)
        .toEqual([1, true]);
    }
  });

  it("deleting an Account removes its roles and SAML provider (Delete) or keeps them (Retain)", async () => {
    await objects.delete("accounts", "staging");
    await expect
      .poll(
        () =>
          objects.get("accounts", "staging").then(
            () => true,
            () => false,
          ),
        poll,
      )
      .toBe(false);
    expect(await ownedRoles(B)).toEqual([]);
    expect((await iamOf(B).send(new ListSAMLProvidersCommand({}))).SAMLProviderList ?? []).toEqual(
      [],
    );

    const keptBefore = await ownedRoles(C);
    await objects.delete("accounts", "security");
    await expect
      .poll(
        () =>
          objects.get("accounts", "security").then(
            () => true,
            () => false,
          ),
        poll,
      )
      .toBe(false);
    expect(await ownedRoles(C)).toEqual(keptBefore);
    expect((await iamOf(C).send(new ListSAMLProvidersCommand({}))).SAMLProviderList).toHaveLength(
      1,
    );
  });
});
