import type { V1Deployment, V1Role } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import type { IdentityCenter } from "../api/v1alpha1/index.ts";
import { desiredPortalObjects, portalReadableSecrets } from "./portal-workload.ts";

const ic = {
  apiVersion: "identitycenter.dev/v1alpha1",
  kind: "IdentityCenter",
  metadata: { name: "corp", uid: "uid-1" },
  spec: {
    portal: { hostname: "sso.example.com", replicas: 2, ingress: { enabled: false } },
    signIn: {},
  },
} as unknown as IdentityCenter;

const objects = (readableSecrets: string[]) =>
  desiredPortalObjects(ic, {
    namespace: "idc",
    credentialsNamespace: "idc-credentials",
    defaultImage: "idc:1",
    signingFingerprint: "AB:CD",
    readableSecrets,
  });

describe("the portal's identity", () => {
  it("reads the Secrets of the operator namespace only by name (never the AWS keys or Helm's)", () => {
    const role = objects(portalReadableSecrets("corp")).find((o) => o.kind === "Role") as V1Role;
    expect(role.rules).toEqual([
      {
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: [
          "identitycenter-corp-signing",
          "identitycenter-corp-session",
          "identitycenter-corp-scim-tokens",
        ],
        verbs: ["get"],
      },
    ]);
  });

  it("names each Application's signing Secret it is given, once and in a stable order", () => {
    expect(portalReadableSecrets("corp", ["app-b", "app-a", "app-b"])).toEqual([
      "identitycenter-corp-signing",
      "identitycenter-corp-session",
      "identitycenter-corp-scim-tokens",
      "app-a",
      "app-b",
    ]);
  });

  it("gets no ClusterRoleBinding from the controller (the chart owns the portals' one)", () => {
    const kinds = objects(portalReadableSecrets("corp")).map((o) => o.kind);
    expect(kinds).not.toContain("ClusterRoleBinding");
    expect(kinds).toEqual([
      "ServiceAccount",
      "Role",
      "RoleBinding",
      "Deployment",
      "Service",
      "PodDisruptionBudget",
    ]);
    for (const o of objects([])) expect(o.metadata?.namespace).toBe("idc");
  });

  it("tells the portal where the credential records live", () => {
    const deployment = objects([]).find((o) => o.kind === "Deployment") as V1Deployment;
    expect(deployment.spec?.template.spec?.containers[0]?.args).toContain(
      "--credentials-namespace=idc-credentials",
    );
  });
});
