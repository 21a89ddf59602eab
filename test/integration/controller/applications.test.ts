import { CoreV1Api, type V1Secret } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { applicationSigningSecretName } from "../../../src/plan/naming.ts";
import { certificateFingerprint } from "../../../src/saml/signing-identity.ts";
import { operatorCrdFiles, storeUnderOlderCrd } from "../../harness/crds.ts";
import { customObjects, readyOf } from "../../harness/k8s.ts";
import { OPERATOR_NAMESPACE, useControllerProcess } from "../../harness/use-controller.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";

const poll = { timeout: 20_000, interval: 100 };
/** The Application CRD as it was before it refused Applications that impersonate AWS sign-in. */
const OLDER_APPLICATION_CRD = {
  crdName: "applications.identitycenter.dev",
  collectionPath: "/apis/identitycenter.dev/v1alpha1/applications",
  drop: /AWS sign-in/,
};

describe("application controllers", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles() });
  let objects: ReturnType<typeof customObjects>;

  beforeAll(() => {
    objects = customObjects(env().kubeConfig());
  });
  useControllerProcess(env, {
    identity: "apps",
    args: ["--leader-elect=false"],
  });

  it("makes an application Ready with the IdP metadata URL once an IdentityCenter exists", async () => {
    await objects.create("applications", "Application", "wiki", {
      displayName: "Wiki",
      entityId: "https://wiki.example.com/saml",
      acsUrl: "https://wiki.example.com/saml/acs",
    });
    await expect
      .poll(async () => readyOf(await objects.get("applications", "wiki"))?.reason, poll)
      .toBe("WaitingForIdentityCenter");
    await objects.create("identitycenters", "IdentityCenter", "default", {
      portal: { hostname: "sso.example.com" },
    });
    await expect
      .poll(async () => readyOf(await objects.get("applications", "wiki"))?.status, poll)
      .toBe("True");
    expect((await objects.get("applications", "wiki")).status?.metadataUrl).toBe(
      "https://sso.example.com/applications/wiki/saml/metadata",
    );
  });

  /** The application's key Secret as the API server holds it, or undefined once it is gone. */
  const signingSecret = async (app: string): Promise<V1Secret | undefined> =>
    env()
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({
        name: applicationSigningSecretName(app),
        namespace: OPERATOR_NAMESPACE,
      })
      .catch((err: unknown) => {
        if ((err as { code?: number }).code === 404) return undefined;
        throw err;
      });
  const certificateIn = (secret: V1Secret | undefined) =>
    Buffer.from(secret?.data?.["tls.crt"] ?? "", "base64").toString();
  const fingerprintOf = async (app: string) =>
    (await objects.get("applications", app)).status?.signingCertificateFingerprint;

  it("gives each Application its own signing key, never the instance's (so no Application signs what AWS trusts)", async () => {
    await expect.poll(() => fingerprintOf("wiki"), poll).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const wiki = await objects.get<{
      metadata: { uid: string };
      status: { signingCertificate: string; signingCertificateNotAfter: string };
    }>("applications", "wiki");
    const secret = await signingSecret("wiki");
    expect(secret?.type).toBe("kubernetes.io/tls");
    expect(certificateIn(secret)).toBe(wiki.status.signingCertificate);
    expect(Buffer.from(secret?.data?.["tls.key"] ?? "", "base64").toString()).toContain(
      "PRIVATE KEY",
    );
    expect(secret?.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: "Application", name: "wiki", uid: wiki.metadata.uid }),
    ]);
    expect(new Date(wiki.status.signingCertificateNotAfter).getTime()).toBeGreaterThan(
      Date.now() + 365 * 24 * 3600_000,
    );
    await expect
      .poll(async () => (await objects.get("identitycenters", "default")).status, poll)
      .toHaveProperty("signingCertificate");
    const instance = await objects.get("identitycenters", "default");
    expect(wiki.status.signingCertificate).not.toBe(instance.status?.signingCertificate);

    await objects.create("applications", "Application", "crm", {
      displayName: "CRM",
      entityId: "https://crm.example.com",
      acsUrl: "https://crm.example.com/acs",
    });
    await expect.poll(() => fingerprintOf("crm"), poll).toMatch(/^[0-9A-F:]{95}$/);
    const fingerprints = [
      await fingerprintOf("wiki"),
      await fingerprintOf("crm"),
      instance.status?.signingCertificateFingerprint,
    ];
    expect(new Set(fingerprints).size).toBe(3);
  });

  it("rolls a new signing key when the rotation annotation changes or the Secret is deleted", async () => {
    const before = await fingerprintOf("wiki");
    const annotated = await env().apiServer.request(
      "PATCH",
      "/apis/identitycenter.dev/v1alpha1/applications/wiki",
      { metadata: { annotations: { "identitycenter.dev/rotate-signing-key": "2026-12-01" } } },
      { contentType: "application/merge-patch+json" },
    );
    expect(annotated.status).toBe(200);
    await expect.poll(() => fingerprintOf("wiki"), poll).not.toBe(before);
    const rotated = await fingerprintOf("wiki");
    expect(certificateFingerprint(certificateIn(await signingSecret("wiki")))).toBe(rotated);

    await env()
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .deleteNamespacedSecret({
        name: applicationSigningSecretName("wiki"),
        namespace: OPERATOR_NAMESPACE,
      });
    await expect.poll(() => fingerprintOf("wiki"), poll).not.toBe(rotated);
    const remade = await fingerprintOf("wiki");
    expect(remade).not.toBe(before);
    expect(certificateFingerprint(certificateIn(await signingSecret("wiki")))).toBe(remade);
  });

  it("refuses at run time an Application stored before the CRD refused it, that claims the AWS audience (minting AWS sign-ins): no key, a reason", async () => {
    await storeUnderOlderCrd(env(), OLDER_APPLICATION_CRD, {
      apiVersion: "identitycenter.dev/v1alpha1",
      kind: "Application",
      metadata: { name: "aws-console" },
      spec: {
        displayName: "AWS",
        entityId: "urn:amazon:webservices",
        acsUrl: "https://signin.aws.amazon.com/saml",
        attributeMappings: [
          {
            name: "https://aws.amazon.com/SAML/Attributes/Role",
            value:
              "arn:aws:iam::111111111111:role/identitycenter/Admin,arn:aws:iam::111111111111:saml-provider/IdentityCenterOperator_default",
          },
        ],
      },
    });
    await expect
      .poll(async () => readyOf(await objects.get("applications", "aws-console"))?.reason, poll)
      .toBe("ImpersonatesAwsSignIn");
    const refused = await objects.get("applications", "aws-console");
    expect(readyOf(refused)?.status).toBe("False");
    expect(readyOf(refused)?.message).toContain("spec.entityId is the AWS sign-in audience");
    expect(readyOf(refused)?.message).toContain("spec.acsUrl is an AWS sign-in endpoint");
    expect(readyOf(refused)?.message).toContain(
      "spec.attributeMappings[0].name is an AWS sign-in attribute",
    );
    expect(refused.status?.signingCertificate).toBeUndefined();
    expect(refused.status?.metadataUrl).toBeUndefined();
    expect(await signingSecret("aws-console")).toBeUndefined();
  });

  it("reports two Applications that claim one entity id (first match would win an AuthnRequest)", async () => {
    await objects.create("applications", "Application", "wiki-copy", {
      displayName: "Wiki copy",
      entityId: "https://wiki.example.com/saml",
      acsUrl: "https://attacker.example.com/acs",
    });
    for (const name of ["wiki", "wiki-copy"]) {
      await expect
        .poll(async () => readyOf(await objects.get("applications", name))?.reason, poll)
        .toBe("EntityIdConflict");
    }
    expect(readyOf(await objects.get("applications", "wiki"))?.message).toContain(
      "also claimed by Application wiki-copy",
    );
    await objects.delete("applications", "wiki-copy");
    await expect
      .poll(async () => readyOf(await objects.get("applications", "wiki"))?.reason, poll)
      .toBe("Configured");
  });

  it("deletes an Application's signing key with the Application", async () => {
    expect(await signingSecret("crm")).toBeDefined();
    await objects.delete("applications", "crm");
    await expect.poll(() => signingSecret("crm"), poll).toBeUndefined();
  });

  it("reports an assignment to a missing application or principal, and Ready once both exist", async () => {
    await objects.create("applicationassignments", "ApplicationAssignment", "team-wiki", {
      principal: { kind: "Group", name: "team" },
      application: "wiki",
    });
    await expect
      .poll(
        async () => readyOf(await objects.get("applicationassignments", "team-wiki"))?.reason,
        poll,
      )
      .toBe("PrincipalNotFound");
    await objects.create("groups", "Group", "team", { members: [] });
    await expect
      .poll(
        async () => readyOf(await objects.get("applicationassignments", "team-wiki"))?.status,
        poll,
      )
      .toBe("True");
    await objects.create("applicationassignments", "ApplicationAssignment", "team-crm", {
      principal: { kind: "Group", name: "team" },
      application: "crm-gone",
    });
    await expect
      .poll(
        async () => readyOf(await objects.get("applicationassignments", "team-crm"))?.reason,
        poll,
      )
      .toBe("ApplicationNotFound");
  });
});
