import { readdir } from "node:fs/promises";
import path from "node:path";
import {
  CustomObjectsApi,
  KubernetesObjectApi,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { CATEGORY } from "../../../src/api/v1alpha1/crd.ts";
import { kindDefinitions } from "../../../src/api/v1alpha1/index.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { createObjects, readObjects } from "../../harness/objects.ts";
import { repoRoot } from "../../harness/paths.ts";

const samplesDir = path.join(repoRoot, "manifests/samples");

describe("samples", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles() });
  const stored = new Map<string, KubernetesObject>();

  beforeAll(async () => {
    const files = (await readdir(samplesDir)).filter((f) => f.endsWith(".yaml")).sort();
    for (const file of files) {
      const objects = await readObjects(path.join(samplesDir, file));
      for (const obj of await createObjects(env().kubeConfig(), objects)) {
        stored.set(`${obj.kind ?? ""}/${obj.metadata?.name ?? ""}`, obj);
      }
    }
  });

  it("applies the whole sample organisation", () => {
    const count = (kind: string) =>
      [...stored.keys()].filter((k) => k.startsWith(`${kind}/`)).length;
    expect(count("IdentityCenter")).toBe(1);
    expect(count("User")).toBe(4);
    expect(count("Group")).toBe(2);
    expect(count("PermissionSet")).toBe(3);
    expect(count("Account")).toBe(3);
    expect(count("AccountAssignment")).toBe(3);
    expect(count("Application")).toBe(1);
    expect(count("ApplicationAssignment")).toBe(1);
  });

  it("reads objects back with defaults filled in", async () => {
    const api = KubernetesObjectApi.makeApiClient(env().kubeConfig());
    const read = async (kind: string, name: string) =>
      api.read<KubernetesObject & { spec: Record<string, unknown> }>({
        apiVersion: "identitycenter.dev/v1alpha1",
        kind,
        metadata: { name },
      });

    const instance = await read("IdentityCenter", "default");
    expect(instance.spec.aws).toEqual({
      partition: "aws",
      signInUrl: "https://signin.aws.amazon.com/saml",
    });
    expect(instance.spec.identitySource).toEqual({
      type: "internal",
      jitProvisioning: false,
      trustUpstreamMfa: true,
    });
    expect(instance.spec.signIn).toMatchObject({ lockoutThreshold: 5 });
    expect(instance.spec.portal).toMatchObject({ ingress: { enabled: true } });

    expect((await read("User", "alice")).spec.active).toBe(true);
    expect((await read("User", "dave")).spec.active).toBe(false);

    const readOnly = await read("PermissionSet", "read-only-access");
    expect(readOnly.spec.sessionDuration).toBe("PT1H");
    const reports = await read("PermissionSet", "s3-reports");
    expect(reports.spec.customerManagedPolicies).toEqual([
      { name: "ReportsKmsDecrypt", path: "/reports/" },
    ]);
    // The inline policy is kept exactly as written, including fields the schema does not list.
    expect(reports.spec.inlinePolicy).toMatchObject({
      Statement: [{ Sid: "ReadReports", Effect: "Allow" }],
    });

    expect((await read("Account", "production")).spec.deletionPolicy).toBe("Delete");
    expect((await read("Account", "security")).spec.deletionPolicy).toBe("Retain");

    const wiki = await read("Application", "wiki");
    expect(wiki.spec.signing).toEqual({ assertion: true, response: false });
    expect(wiki.spec.attributeMappings).toEqual([
      { name: "department", source: "attributes.department", nameFormat: "unspecified" },
      { name: "role", value: "member", nameFormat: "unspecified" },
    ]);
  });

  it("publishes every kind in discovery with its category and short names", async () => {
    const list = await env()
      .kubeConfig()
      .makeApiClient(CustomObjectsApi)
      .getAPIResources({ group: "identitycenter.dev", version: "v1alpha1" });
    const kinds = list.resources
      .filter((r) => !r.name.includes("/"))
      .map((r) => ({ kind: r.kind, namespaced: r.namespaced, categories: r.categories }));
    expect(kinds).toHaveLength(8);
    for (const k of kinds) expect(k).toMatchObject({ namespaced: false, categories: [CATEGORY] });
    const users = list.resources.find((r) => r.name === "users");
    expect(users?.shortNames).toEqual(["idcuser"]);
    expect(list.resources.map((r) => r.name)).toContain("users/status");
  });

  it("names no category after a resource, so `kubectl get identitycenter default` is not shadowed by a category", async () => {
    // kubectl expands an argument that is a category before it looks for a resource of that
    // name, so a category equal to any served name, singular or short name hides that resource.
    interface Resource {
      name: string;
      kind: string;
      singularName?: string;
      shortNames?: string[];
      categories?: string[];
    }
    const server = env().apiServer;
    const get = async <T>(path: string): Promise<T> => {
      const res = await server.request("GET", path);
      expect(res.status, path).toBe(200);
      return res.body as T;
    };
    const groups = await get<{ groups: { preferredVersion: { groupVersion: string } }[] }>("/apis");
    const versions = [
      "/api/v1",
      ...groups.groups.map((g) => `/apis/${g.preferredVersion.groupVersion}`),
    ];
    const resources = (
      await Promise.all(versions.map((v) => get<{ resources: Resource[] }>(v)))
    ).flatMap((list) => list.resources.filter((r) => !r.name.includes("/")));
    const names = new Set(
      resources.flatMap((r) => [
        r.name,
        r.singularName || r.kind.toLowerCase(),
        ...(r.shortNames ?? []),
      ]),
    );
    const ours = resources.filter((r) => r.categories?.includes(CATEGORY));
    expect(ours.map((r) => r.kind).sort()).toEqual(kindDefinitions.map((d) => d.kind).sort());
    expect(names.has("identitycenter")).toBe(true);
    const shadowed = [...new Set(ours.flatMap((r) => r.categories ?? []))].filter((c) =>
      names.has(c),
    );
    expect(shadowed).toEqual([]);
  });

  it("publishes field descriptions in the OpenAPI v3 document (what kubectl explain shows)", async () => {
    const res = await env().apiServer.request(
      "GET",
      "/openapi/v3/apis/identitycenter.dev/v1alpha1",
    );
    expect(res.status).toBe(200);
    type Schema = { description?: string; properties?: Record<string, Schema> };
    const schemas = (res.body as { components: { schemas: Record<string, Schema> } }).components
      .schemas;
    const user = schemas["dev.identitycenter.v1alpha1.User"];
    expect(user?.description).toMatch(/workforce user/);
    expect(user?.properties?.spec?.properties?.userName?.description).toMatch(/primary identifier/);
    const ps = schemas["dev.identitycenter.v1alpha1.PermissionSet"];
    expect(ps?.properties?.spec?.properties?.sessionDuration?.description).toMatch(
      /between PT1H and PT12H/,
    );
    const assignment = schemas["dev.identitycenter.v1alpha1.AccountAssignment"];
    expect(assignment?.properties?.spec?.properties?.accountSelector?.description).toMatch(
      /picked up automatically/,
    );
  });
});
