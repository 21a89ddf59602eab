import {
  AppsV1Api,
  CoreV1Api,
  NetworkingV1Api,
  PolicyV1Api,
  RbacAuthorizationV1Api,
  type V1Deployment,
} from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { loadKubeConfig } from "../../../src/adapters/k8s/kube-config.ts";
import { PORTAL_SERVICE_ACCOUNT } from "../../harness/chart.ts";
import { startPortalProcess } from "../../harness/portal-process.ts";
import { freePort } from "../../harness/ports.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { customObjects, readyOf } from "../../harness/k8s.ts";
import { OPERATOR_NAMESPACE, useControllerProcess } from "../../harness/use-controller.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";

const NS = OPERATOR_NAMESPACE;
const NAME = "identitycenter-default-portal";
const IMAGE = "registry.example.com/identity-center-operator:1.2.3";
const poll = { timeout: 20_000, interval: 100 };

const notFound = (err: unknown) =>
  typeof err === "object" && err !== null && "code" in err && err.code === 404;

describe("the IdentityCenter controller runs the portal", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles() });
  let objects: ReturnType<typeof customObjects>;
  let apps: AppsV1Api;
  let core: CoreV1Api;
  let net: NetworkingV1Api;
  let policy: PolicyV1Api;
  let rbac: RbacAuthorizationV1Api;

  beforeAll(() => {
    const kc = env().kubeConfig();
    objects = customObjects(kc);
    apps = kc.makeApiClient(AppsV1Api);
    core = kc.makeApiClient(CoreV1Api);
    net = kc.makeApiClient(NetworkingV1Api);
    policy = kc.makeApiClient(PolicyV1Api);
    rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  });
  useControllerProcess(env, {
    identity: "portal-workload",
    args: ["--leader-elect=false", `--portal-image=${IMAGE}`],
  });

  const deployment = () => apps.readNamespacedDeployment({ name: NAME, namespace: NS });
  /** Stands in for the Deployment controller, which this control plane does not run. */
  const reportReady = async (readyReplicas: number) => {
    const current = await deployment();
    await apps.replaceNamespacedDeploymentStatus({
      name: NAME,
      namespace: NS,
      body: {
        ...current,
        status: {
          observedGeneration: current.metadata?.generation ?? 0,
          replicas: readyReplicas,
          readyReplicas,
          availableReplicas: readyReplicas,
        },
      },
    });
  };

  it("creates a hardened Deployment, Service, Ingress, PDB and a portal identity", async () => {
    await objects.create("identitycenters", "IdentityCenter", "default", {
      portal: {
        hostname: "sso.example.com",
        replicas: 2,
        ingress: {
          enabled: true,
          className: "nginx",
          tlsSecretName: "sso-tls",
          annotations: { "cert-manager.io/cluster-issuer": "letsencrypt" },
        },
      },
    });
    // The objects are applied in order and the PodDisruptionBudget comes last.
    await expect
      .poll(
        () =>
          policy.readNamespacedPodDisruptionBudget({ name: NAME, namespace: NS }).then(
            () => true,
            () => false,
          ),
        poll,
      )
      .toBe(true);
    const ic = await objects.get<{ metadata: { uid: string } }>("identitycenters", "default");
    const d: V1Deployment = await deployment();
    expect(d.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ kind: "IdentityCenter", name: "default", uid: ic.metadata.uid }),
    ]);
    expect(d.spec?.replicas).toBe(2);
    const pod = d.spec?.template.spec;
    expect(pod?.serviceAccountName).toBe(NAME);
    expect(pod?.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    });
    const [container] = pod?.containers ?? [];
    expect(container?.image).toBe(IMAGE);
    expect(container?.args).toEqual([
      "portal",
      "--listen=0.0.0.0:8080",
      "--instance=default",
      `--namespace=${NS}`,
      `--credentials-namespace=${NS}-credentials`,
      "--metrics-addr=0.0.0.0:9090",
      "--hash-concurrency=4",
    ]);
    // Memory for the portal plus four Argon2id checks at 19 MiB, which is what it runs at once.
    expect(container?.resources?.limits?.memory).toBe("352Mi");
    expect(container?.env).toContainEqual({ name: "UV_THREADPOOL_SIZE", value: "4" });
    expect(container?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(container?.readinessProbe?.httpGet?.path).toBe("/readyz");
    expect(container?.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(container?.resources?.limits?.memory).toBeDefined();
    expect(container?.resources?.requests?.cpu).toBeDefined();
    expect(
      d.spec?.template.metadata?.annotations?.["identitycenter.dev/signing-certificate-sha256"],
    ).toMatch(/^[0-9A-F:]+$/i);

    const svc = await core.readNamespacedService({ name: NAME, namespace: NS });
    expect(svc.spec?.ports).toEqual([
      expect.objectContaining({ name: "http", port: 80, targetPort: "http" }),
      expect.objectContaining({ name: "metrics", port: 9090, targetPort: "metrics" }),
    ]);
    expect(svc.spec?.selector).toEqual(d.spec?.selector.matchLabels);
    // What the chart's portal ServiceMonitor selects.
    expect(svc.metadata?.labels).toMatchObject({
      "app.kubernetes.io/name": "identity-center-portal",
      "app.kubernetes.io/managed-by": "identity-center-operator",
    });

    const ing = await net.readNamespacedIngress({ name: NAME, namespace: NS });
    expect(ing.spec?.ingressClassName).toBe("nginx");
    expect(ing.spec?.tls).toEqual([{ hosts: ["sso.example.com"], secretName: "sso-tls" }]);
    expect(ing.spec?.rules?.[0]?.host).toBe("sso.example.com");
    expect(ing.metadata?.annotations).toMatchObject({
      "cert-manager.io/cluster-issuer": "letsencrypt",
    });

    const pdb = await policy.readNamespacedPodDisruptionBudget({ name: NAME, namespace: NS });
    expect(pdb.spec?.maxUnavailable).toBe(1);

    await core.readNamespacedServiceAccount({ name: NAME, namespace: NS });
    const role = await rbac.readNamespacedRole({ name: NAME, namespace: NS });
    expect(role.rules).toEqual([
      expect.objectContaining({
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: [
          "identitycenter-default-signing",
          "identitycenter-default-session",
          "identitycenter-default-scim-tokens",
        ],
        verbs: ["get"],
      }),
    ]);
    const binding = await rbac.readNamespacedRoleBinding({ name: NAME, namespace: NS });
    expect(binding.subjects).toEqual([
      expect.objectContaining({ kind: "ServiceAccount", name: NAME, namespace: NS }),
    ]);
    // Reading the kinds comes from the chart's binding: the controller writes none.
    const crb = await rbac.readClusterRoleBinding({ name: NAME }).then(
      () => 200,
      (err: unknown) => (notFound(err) ? 404 : 500),
    );
    expect(crb).toBe(404);
  });

  it("reports ready replicas and becomes Ready once a replica is ready", async () => {
    await expect
      .poll(async () => readyOf(await objects.get("identitycenters", "default"))?.reason, poll)
      .toBe("PortalUnavailable");
    expect(readyOf(await objects.get("identitycenters", "default"))?.message).toContain(
      `0/2 portal replicas ready; see Deployment ${NS}/${NAME}`,
    );
    await reportReady(2);
    await expect
      .poll(async () => readyOf(await objects.get("identitycenters", "default"))?.status, poll)
      .toBe("True");
    const ic = await objects.get("identitycenters", "default");
    expect(ic.status?.readyReplicas).toBe(2);
    expect(readyOf(ic)?.message).toBe("2/2 portal replicas ready");
  });

  it("gives the portal an identity that is enough to serve, and no more", async () => {
    const metricsPort = await freePort();
    const portal = startPortalProcess({
      kubeconfig: await env().kubeconfigFor(PORTAL_SERVICE_ACCOUNT),
      workDir: env().workDir,
      namespace: NS,
      port: await freePort(),
      metricsPort,
    });
    try {
      await expect.poll(() => portal.ready(), { timeout: 60_000, interval: 200 }).toBe(true);
      const metadata = await fetch(`${portal.url}/saml/metadata`);
      expect(metadata.status).toBe(200);
      expect(await metadata.text()).toContain('entityID="https://sso.example.com/saml/metadata"');
      // Metrics are on their own port, which the Ingress never routes to.
      const scraped = await (await fetch(`http://127.0.0.1:${String(metricsPort)}/metrics`)).text();
      expect(scraped).toContain(
        'idc_portal_http_request_duration_seconds_count{route="/saml/metadata",method="GET",status="200"} 1',
      );
      expect((await fetch(`${portal.url}/metrics`)).status).toBe(404);
      // The controller made the session-key Secret every replica shares; the portal only reads it.
      await core.readNamespacedSecret({ name: "identitycenter-default-session", namespace: NS });
      // It may not touch what it does not need: our resources are read-only to it.
      const asPortal = loadKubeConfig(await env().kubeconfigFor(PORTAL_SERVICE_ACCOUNT));
      const denied = await customObjects(asPortal)
        .delete("identitycenters", "default")
        .then(
          () => 200,
          (err: unknown) => (err as { code?: number }).code,
        );
      expect(denied).toBe(403);
    } finally {
      // Fails the test if the API server refused the portal anything.
      await portal.stop();
    }
  });

  it("puts back what is edited or deleted by hand", async () => {
    const d = await deployment();
    const [container] = d.spec?.template.spec?.containers ?? [];
    if (!container || !d.spec) throw new Error("no container");
    container.image = "evil.example.com/portal:latest";
    d.spec.replicas = 5;
    await apps.replaceNamespacedDeployment({ name: NAME, namespace: NS, body: d });
    await core.deleteNamespacedService({ name: NAME, namespace: NS });
    await expect
      .poll(async () => {
        const now = await deployment();
        return [now.spec?.replicas, now.spec?.template.spec?.containers[0]?.image];
      }, poll)
      .toEqual([2, IMAGE]);
    await expect
      .poll(
        () =>
          core.readNamespacedService({ name: NAME, namespace: NS }).then(
            () => true,
            () => false,
          ),
        poll,
      )
      .toBe(true);
  });

  it("follows the spec: one replica drops the PDB, a disabled Ingress is removed, a named image is used", async () => {
    await objects.patchSpec("identitycenters", "default", {
      portal: {
        hostname: "sso.example.com",
        replicas: 1,
        image: "registry.example.com/custom-portal:9",
        ingress: { enabled: false },
      },
    });
    await expect
      .poll(
        () =>
          policy.readNamespacedPodDisruptionBudget({ name: NAME, namespace: NS }).then(
            () => "present",
            (err: unknown) => (notFound(err) ? "gone" : String(err)),
          ),
        poll,
      )
      .toBe("gone");
    await expect
      .poll(
        () =>
          net.readNamespacedIngress({ name: NAME, namespace: NS }).then(
            () => "present",
            (err: unknown) => (notFound(err) ? "gone" : String(err)),
          ),
        poll,
      )
      .toBe("gone");
    const d = await deployment();
    expect(d.spec?.replicas).toBe(1);
    expect(d.spec?.template.spec?.containers[0]?.image).toBe(
      "registry.example.com/custom-portal:9",
    );
  });
});
