import { ApiextensionsV1Api, CustomObjectsApi, Watch } from "@kubernetes/client-node";
import { CreateRoleCommand, GetRoleCommand, ListRolesCommand } from "@aws-sdk/client-iam";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { describe, expect, it } from "vitest";
import { useTestEnvironment } from "../harness/use-environment.ts";
import { MANAGEMENT_ACCOUNT_ID } from "../harness/moto.ts";

// Proves the harness runs the real parts: a kube-apiserver that serves a CRD and watches, and a
// moto that keeps accounts apart.
describe("test harness", () => {
  const getEnv = useTestEnvironment({ moto: true });

  it("serves a new CRD and delivers a created custom object on a watch", async () => {
    const env = getEnv();
    const kc = env.kubeConfig();
    await kc.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({
      body: {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: "widgets.smoke.identitycenter.dev" },
        spec: {
          group: "smoke.identitycenter.dev",
          scope: "Cluster",
          names: { plural: "widgets", singular: "widget", kind: "Widget" },
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              schema: {
                openAPIV3Schema: {
                  type: "object",
                  properties: {
                    spec: { type: "object", properties: { size: { type: "integer" } } },
                  },
                },
              },
            },
          ],
        },
      },
    });
    const objects = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: "smoke.identitycenter.dev", version: "v1", plural: "widgets" };
    // The CRD is served shortly after creation; poll the list until it answers.
    await expect
      .poll(
        () =>
          objects.listClusterCustomObject(ref).then(
            () => true,
            () => false,
          ),
        {
          timeout: 15_000,
        },
      )
      .toBe(true);

    const seen = new Promise<{ type: string; name: string; size: number }>((resolve, reject) => {
      void new Watch(kc)
        .watch(
          "/apis/smoke.identitycenter.dev/v1/widgets",
          {},
          (type, obj: { metadata: { name: string }; spec: { size: number } }) => {
            if (obj.metadata.name === "first")
              resolve({ type, name: obj.metadata.name, size: obj.spec.size });
          },
          (err: unknown) => {
            if (err) reject(err instanceof Error ? err : new Error("watch ended with an error"));
          },
        )
        .then((controller) => {
          void seen.finally(() => {
            controller.abort();
          });
        }, reject);
    });
    // Give the watch a moment to be established before creating.
    await new Promise((r) => setTimeout(r, 300));
    await objects.createClusterCustomObject({
      ...ref,
      body: {
        apiVersion: "smoke.identitycenter.dev/v1",
        kind: "Widget",
        metadata: { name: "first" },
        spec: { size: 3 },
      },
    });
    await expect(seen).resolves.toEqual({ type: "ADDED", name: "first", size: 3 });
  });

  it("keeps AWS accounts apart: a role created in account B is not visible in account A", async () => {
    const env = getEnv();
    const accountA = "111111111111";
    const accountB = "222222222222";
    const iamA = await env.moto.createMemberAccount(accountA);
    const iamB = await env.moto.createMemberAccount(accountB);

    const credsB = await env.moto.assumeInto(accountB);
    const identity = await env.moto.sts(credsB).send(new GetCallerIdentityCommand({}));
    expect(identity.Account).toBe(accountB);

    const created = await iamB.send(
      new CreateRoleCommand({
        RoleName: "only-in-b",
        Path: "/smoke/",
        AssumeRolePolicyDocument: JSON.stringify({ Version: "2012-10-17", Statement: [] }),
      }),
    );
    expect(created.Role?.Arn).toBe(`arn:aws:iam::${accountB}:role/smoke/only-in-b`);

    const inA = await iamA.send(new ListRolesCommand({ PathPrefix: "/smoke/" }));
    expect(inA.Roles ?? []).toEqual([]);
    await expect(iamA.send(new GetRoleCommand({ RoleName: "only-in-b" }))).rejects.toMatchObject({
      name: "NoSuchEntityException",
    });
    const inManagement = await env.moto.iam().send(new ListRolesCommand({ PathPrefix: "/smoke/" }));
    expect(inManagement.Roles ?? []).toEqual([]);
    const management = await env.moto.sts().send(new GetCallerIdentityCommand({}));
    expect(management.Account).toBe(MANAGEMENT_ACCOUNT_ID);
  });

  it("loads AWS managed policies", async () => {
    const env = getEnv();
    const iam = await env.moto.createMemberAccount("333333333333");
    const { GetPolicyCommand } = await import("@aws-sdk/client-iam");
    const policy = await iam.send(
      new GetPolicyCommand({ PolicyArn: "arn:aws:iam::aws:policy/ReadOnlyAccess" }),
    );
    expect(policy.Policy?.PolicyName).toBe("ReadOnlyAccess");
  });
});
