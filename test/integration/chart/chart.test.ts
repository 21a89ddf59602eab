import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  CHART_DIR,
  CHART_NAMESPACE,
  CONTROLLER_SERVICE_ACCOUNT,
  applyAll,
  helm,
  helmLint,
  helmTemplate,
  objectPath,
  parseManifests,
  renderedChart,
  serverSideApply,
  type KubeObject,
} from "../../harness/chart.ts";
import { forbiddenRequests, startControllerProcess } from "../../harness/controller-process.ts";
import { repoRoot } from "../../harness/paths.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { waitFor } from "../../harness/wait.ts";

const IMAGE = "ghcr.io/identity-center-operator/identity-center-operator";
const KINDS = [
  "identitycenters",
  "users",
  "groups",
  "permissionsets",
  "accounts",
  "accountassignments",
  "applications",
  "applicationassignments",
];
const ALL_WRITE = ["get", "list", "watch", "create", "update", "patch", "delete"];

/** Every optional feature of the chart turned on. */
const allFeatures = {
  replicaCount: 3,
  image: { tag: "1.2.3", pullPolicy: "Always" },
  imagePullSecrets: [{ name: "regcred" }],
  controller: {
    logLevel: "debug",
    workers: 6,
    resyncPeriod: "5m",
    extraArgs: ["--lease-name=idc-leader"],
    extraEnv: [{ name: "AWS_STS_REGIONAL_ENDPOINTS", value: "regional" }],
  },
  aws: {
    serviceAccountAnnotations: {
      "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/identity-center-operator",
    },
    existingSecret: "aws-credentials",
    region: "eu-west-1",
    endpoint: "https://iam.example.internal",
  },
  metrics: { serviceMonitor: { enabled: true, labels: { release: "prometheus" } } },
  networkPolicy: {
    enabled: true,
    metricsNamespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
    apiServer: { cidrs: ["10.0.0.1/32"] },
  },
  identityCenter: {
    create: true,
    name: "corp",
    spec: {
      portal: { hostname: "sso.corp.example.com", replicas: 3 },
      signIn: { mfa: "required", duration: "PT8H", idleTimeout: "PT30M" },
      accessControlAttributes: [{ key: "Department", source: "attributes.department" }],
    },
  },
  priorityClassName: "system-cluster-critical",
  nodeSelector: { "kubernetes.io/os": "linux" },
  tolerations: [{ key: "dedicated", operator: "Equal", value: "ops", effect: "NoSchedule" }],
  podAnnotations: { "example.com/scrape": "true" },
  podLabels: { team: "identity" },
};

interface Container {
  name: string;
  image: string;
  args: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  envFrom?: { secretRef?: { name: string } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string } };
  readinessProbe: { httpGet: { path: string; port: string } };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown>;
}

interface PodSpec {
  serviceAccountName: string;
  securityContext: Record<string, unknown>;
  containers: Container[];
  affinity?: Record<string, unknown>;
  [key: string]: unknown;
}

interface Deployment extends KubeObject {
  spec: { replicas: number; template: { metadata: Record<string, unknown>; spec: PodSpec } };
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const find = (objects: KubeObject[], kind: string, name?: string, namespace?: string) => {
  const found = objects.filter(
    (o) =>
      o.kind === kind &&
      (!name || o.metadata.name === name) &&
      (!namespace || o.metadata.namespace === namespace),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${kind} ${name ?? ""}, found ${found.length}`);
  return found[0] as KubeObject;
};
const deploymentOf = (objects: KubeObject[]) => find(objects, "Deployment") as Deployment;
const containerOf = (objects: KubeObject[]) => {
  const container = deploymentOf(objects).spec.template.spec.containers[0];
  if (!container) throw new Error("the Deployment has no container");
  return container;
};
const rulesOf = (objects: KubeObject[], kind: string, name: string, namespace?: string) =>
  find(objects, kind, name, namespace).rules as Rule[];
const CREDENTIALS_NAMESPACE = `${CHART_NAMESPACE}-credentials`;

describe("the Helm chart", () => {
  let defaults: KubeObject[];
  let featured: KubeObject[];

  beforeAll(async () => {
    defaults = await renderedChart();
    featured = parseManifests(await helmTemplate({ values: allFeatures }));
  });

  it("passes helm lint --strict, with default values and with every feature on", async () => {
    for (const values of [undefined, allFeatures]) {
      const lint = await helmLint(values);
      expect(lint.code, lint.stdout + lint.stderr).toBe(0);
      expect(lint.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
      expect(lint.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    }
  });

  it("renders the controller, its RBAC, the credentials namespace, a metrics Service and a PDB by default; nothing optional", () => {
    const where = (o: KubeObject) => (o.metadata.namespace ? `${o.metadata.namespace}:` : "");
    expect(defaults.map((o) => `${o.kind}/${where(o)}${o.metadata.name}`).sort()).toEqual([
      "ClusterRole/identity-center-operator",
      "ClusterRole/identity-center-operator-portal",
      "ClusterRoleBinding/identity-center-operator",
      "ClusterRoleBinding/identity-center-operator-portal",
      "Deployment/identity-center-operator:identity-center-operator",
      "Namespace/identity-center-operator-credentials",
      "PodDisruptionBudget/identity-center-operator:identity-center-operator",
      "Role/default:identity-center-operator-events",
      "Role/identity-center-operator-credentials:identity-center-operator",
      "Role/identity-center-operator-credentials:identity-center-operator-portal",
      "Role/identity-center-operator:identity-center-operator",
      "RoleBinding/default:identity-center-operator-events",
      "RoleBinding/identity-center-operator-credentials:identity-center-operator",
      "RoleBinding/identity-center-operator-credentials:identity-center-operator-portal",
      "RoleBinding/identity-center-operator:identity-center-operator",
      "Service/identity-center-operator:identity-center-operator-metrics",
      "ServiceAccount/identity-center-operator:identity-center-operator",
      "ValidatingAdmissionPolicy/identity-center-operator-scim-ownership",
      "ValidatingAdmissionPolicyBinding/identity-center-operator-scim-ownership",
    ]);
    // Uninstalling must not take every user's password and authenticator with it.
    expect(find(defaults, "Namespace").metadata.annotations).toEqual({
      "helm.sh/resource-policy": "keep",
    });
    expect(find(defaults, "PodDisruptionBudget").spec).toMatchObject({ maxUnavailable: 1 });
    expect(find(defaults, "Service").spec).toMatchObject({
      type: "ClusterIP",
      ports: [{ name: "metrics", port: 8080, targetPort: "metrics" }],
    });
  });

  it("runs two replicas of the controller with the chart's image, flags and a hardened pod", () => {
    const deployment = deploymentOf(defaults);
    expect(deployment.spec.replicas).toBe(2);
    const pod = deployment.spec.template.spec;
    expect(pod.serviceAccountName).toBe("identity-center-operator");
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.affinity).toMatchObject({
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100 }] },
    });
    const container = containerOf(defaults);
    expect(container.image).toBe(`${IMAGE}:0.1.0`);
    expect(container.args).toEqual([
      "controller",
      "--namespace=$(POD_NAMESPACE)",
      "--health-addr=0.0.0.0:8080",
      `--portal-image=${IMAGE}:0.1.0`,
      "--log-level=info",
      "--workers=4",
      "--account-workers=8",
      "--aws-concurrency=4",
      "--resync-period=10m",
    ]);
    expect(container.env).toEqual([
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "IDC_CREDENTIALS_NAMESPACE", value: CREDENTIALS_NAMESPACE },
    ]);
    expect(container.envFrom).toBeUndefined();
    expect(container.ports).toEqual([{ name: "metrics", containerPort: 8080, protocol: "TCP" }]);
    expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    expect(container.resources).toEqual({
      requests: { cpu: "100m", memory: "192Mi" },
      limits: { memory: "256Mi" },
    });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: 65532,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
  });

  it("grants the controller and the portals exactly the decided rules, and no wildcard, escalate, bind or impersonate", () => {
    expect(rulesOf(defaults, "ClusterRole", "identity-center-operator")).toEqual([
      { apiGroups: ["identitycenter.dev"], resources: KINDS, verbs: ["get", "list", "watch"] },
      {
        apiGroups: ["identitycenter.dev"],
        resources: ["identitycenters", "accounts"],
        verbs: ["update", "patch"],
      },
      {
        apiGroups: ["identitycenter.dev"],
        resources: KINDS.map((k) => `${k}/status`),
        verbs: ["get", "update", "patch"],
      },
      {
        apiGroups: ["identitycenter.dev"],
        resources: ["identitycenters/finalizers", "accounts/finalizers"],
        verbs: ["update"],
      },
    ]);
    // The portals write Users and Groups for SCIM only; the admission policy (scim.yaml) keeps
    // those writes to the portals and to the objects SCIM or the identity source owns.
    expect(rulesOf(defaults, "ClusterRole", "identity-center-operator-portal")).toEqual([
      { apiGroups: ["identitycenter.dev"], resources: KINDS, verbs: ["get", "list", "watch"] },
      {
        apiGroups: ["identitycenter.dev"],
        resources: ["users", "groups"],
        verbs: ["create", "update", "delete"],
      },
    ]);
    expect(rulesOf(defaults, "Role", "identity-center-operator", CHART_NAMESPACE)).toEqual([
      { apiGroups: [""], resources: ["secrets"], verbs: ALL_WRITE },
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        verbs: ["get", "list", "watch", "create", "update", "patch"],
      },
      { apiGroups: [""], resources: ["services", "serviceaccounts"], verbs: ALL_WRITE },
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ALL_WRITE },
      { apiGroups: ["networking.k8s.io"], resources: ["ingresses"], verbs: ALL_WRITE },
      { apiGroups: ["policy"], resources: ["poddisruptionbudgets"], verbs: ALL_WRITE },
      {
        apiGroups: ["rbac.authorization.k8s.io"],
        resources: ["roles", "rolebindings"],
        verbs: ALL_WRITE,
      },
    ]);
    expect(rulesOf(defaults, "Role", "identity-center-operator-events")).toEqual([
      { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
    ]);
    // Credential records: the controller removes stale ones; the portals read and write one
    // by name, and list and watch them for the session check's cache (docs/adr/0021).
    expect(rulesOf(defaults, "Role", "identity-center-operator", CREDENTIALS_NAMESPACE)).toEqual([
      { apiGroups: [""], resources: ["secrets"], verbs: ALL_WRITE },
    ]);
    expect(
      rulesOf(defaults, "Role", "identity-center-operator-portal", CREDENTIALS_NAMESPACE),
    ).toEqual([
      {
        apiGroups: [""],
        resources: ["secrets"],
        verbs: ["get", "list", "watch", "create", "update", "patch"],
      },
    ]);

    for (const rendered of [defaults, featured]) {
      const rules = rendered
        .filter((o) => o.kind === "ClusterRole" || o.kind === "Role")
        .flatMap((o) => o.rules as Rule[]);
      for (const rule of rules) {
        expect([...rule.apiGroups, ...rule.resources, ...rule.verbs]).not.toContain("*");
        for (const verb of ["escalate", "bind", "impersonate"])
          expect(rule.verbs).not.toContain(verb);
      }
    }
    // The chart binds the controller's roles to its ServiceAccount, and the portals' to the
    // ServiceAccounts of the release namespace (whose names it cannot know).
    const bindings = defaults.filter((o) => ["ClusterRoleBinding", "RoleBinding"].includes(o.kind));
    const controllerBindings = bindings.filter((b) => !b.metadata.name.endsWith("-portal"));
    expect(controllerBindings.map((b) => (b.roleRef as { name: string }).name).sort()).toEqual([
      "identity-center-operator",
      "identity-center-operator",
      "identity-center-operator",
      "identity-center-operator-events",
    ]);
    for (const binding of controllerBindings) {
      expect(binding.subjects).toEqual([
        { kind: "ServiceAccount", name: "identity-center-operator", namespace: CHART_NAMESPACE },
      ]);
    }
    const portalBindings = bindings.filter((b) => b.metadata.name.endsWith("-portal"));
    expect(portalBindings.map((b) => `${b.kind}/${b.metadata.namespace ?? ""}`).sort()).toEqual([
      "ClusterRoleBinding/",
      `RoleBinding/${CREDENTIALS_NAMESPACE}`,
    ]);
    for (const binding of portalBindings) {
      expect(binding.roleRef).toMatchObject({ name: "identity-center-operator-portal" });
      expect(binding.subjects).toEqual([
        {
          kind: "Group",
          apiGroup: "rbac.authorization.k8s.io",
          name: `system:serviceaccounts:${CHART_NAMESPACE}`,
        },
      ]);
    }
  });

  it("renders every optional feature: ServiceMonitor, NetworkPolicy, IdentityCenter, AWS identity", () => {
    const account = find(featured, "ServiceAccount");
    expect(account.metadata.annotations).toEqual({
      "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/identity-center-operator",
    });
    const container = containerOf(featured);
    expect(container.image).toBe(`${IMAGE}:1.2.3`);
    expect(container.envFrom).toEqual([{ secretRef: { name: "aws-credentials" } }]);
    expect(container.env).toContainEqual({ name: "AWS_STS_REGIONAL_ENDPOINTS", value: "regional" });
    expect(container.args).toEqual(
      expect.arrayContaining([
        `--portal-image=${IMAGE}:1.2.3`,
        "--log-level=debug",
        "--workers=6",
        "--resync-period=5m",
        "--aws-region=eu-west-1",
        "--aws-endpoint=https://iam.example.internal",
        "--lease-name=idc-leader",
      ]),
    );
    const deployment = deploymentOf(featured);
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.template.spec).toMatchObject({
      imagePullSecrets: [{ name: "regcred" }],
      priorityClassName: "system-cluster-critical",
      nodeSelector: { "kubernetes.io/os": "linux" },
    });
    expect(deployment.spec.template.metadata).toMatchObject({
      labels: { team: "identity", "app.kubernetes.io/component": "controller" },
      annotations: { "example.com/scrape": "true" },
    });

    expect(find(featured, "ServiceMonitor", "identity-center-operator")).toMatchObject({
      apiVersion: "monitoring.coreos.com/v1",
      metadata: { labels: { release: "prometheus" } },
      spec: { endpoints: [{ port: "metrics", path: "/metrics" }] },
    });
    // The portals' Services, as the controller labels them (src/plan/portal-workload.ts).
    expect(find(featured, "ServiceMonitor", "identity-center-operator-portals")).toMatchObject({
      metadata: { labels: { release: "prometheus" } },
      spec: {
        selector: {
          matchLabels: {
            "app.kubernetes.io/name": "identity-center-portal",
            "app.kubernetes.io/managed-by": "identity-center-operator",
          },
        },
        endpoints: [{ port: "metrics", path: "/metrics" }],
      },
    });
    const policy = find(featured, "NetworkPolicy").spec as {
      ingress: { from: unknown[]; ports: unknown[] }[];
      egress: { to?: unknown[]; ports: { port: number; protocol: string }[] }[];
    };
    expect(policy.ingress).toEqual([
      {
        from: [
          {
            namespaceSelector: {
              matchLabels: { "kubernetes.io/metadata.name": "monitoring" },
            },
            podSelector: {},
          },
        ],
        ports: [{ port: "metrics", protocol: "TCP" }],
      },
    ]);
    expect(policy.egress.map((rule) => rule.ports.map((p) => p.port))).toEqual([
      [53, 53],
      [443, 6443],
      [443],
    ]);
    expect(policy.egress[1]?.to).toEqual([{ ipBlock: { cidr: "10.0.0.1/32" } }]);

    expect(find(featured, "IdentityCenter")).toMatchObject({
      apiVersion: "identitycenter.dev/v1alpha1",
      metadata: { name: "corp" },
      spec: allFeatures.identityCenter.spec,
    });
    expect(find(featured, "IdentityCenter").metadata.namespace).toBeUndefined();
  });

  it("puts the credential records where credentials.namespace says, or leaves the namespace to the user", async () => {
    const objects = parseManifests(
      await helmTemplate({
        values: { credentials: { namespace: "idc-secrets", createNamespace: false } },
      }),
    );
    expect(objects.some((o) => o.kind === "Namespace")).toBe(false);
    expect(containerOf(objects).env).toContainEqual({
      name: "IDC_CREDENTIALS_NAMESPACE",
      value: "idc-secrets",
    });
    for (const name of ["identity-center-operator", "identity-center-operator-portal"]) {
      expect(find(objects, "Role", name, "idc-secrets")).toBeDefined();
      expect(find(objects, "RoleBinding", name, "idc-secrets")).toBeDefined();
    }
  });

  it("pins the image by digest, and drops the PDB for a single replica", async () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    const objects = parseManifests(
      await helmTemplate({ values: { replicaCount: 1, image: { digest } } }),
    );
    expect(containerOf(objects).image).toBe(`${IMAGE}@${digest}`);
    expect(containerOf(objects).args).toContain(`--portal-image=${IMAGE}@${digest}`);
    expect(objects.some((o) => o.kind === "PodDisruptionBudget")).toBe(false);
  });

  it("rejects values the schema does not allow, naming the key", async () => {
    const reject = async (values: Record<string, unknown>) => {
      const failure = await helmTemplate({ values }).then(
        () => undefined,
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      );
      expect(failure).toContain("values don't meet the specifications of the schema");
      return failure ?? "";
    };
    expect(await reject({ replicas: 3 })).toMatch(/additional propert(y|ies) 'replicas'/);
    expect(await reject({ controller: { logLevel: "loud" } })).toContain("/controller/logLevel");
    expect(await reject({ controller: { resyncPeriod: "ten minutes" } })).toContain(
      "/controller/resyncPeriod",
    );
    expect(await reject({ identityCenter: { create: true, name: "Corp.Example" } })).toContain(
      "/identityCenter/name",
    );
    expect(
      await reject({ identityCenter: { create: true, spec: { portal: { replicas: 2 } } } }),
    ).toContain("hostname");
    expect(await reject({ image: { pullPolicy: "Sometimes" } })).toContain("/image/pullPolicy");
    // What a schema cannot say, the templates check.
    await expect(helmTemplate({ values: { serviceAccount: { create: false } } })).rejects.toThrow(
      "serviceAccount.name is required when serviceAccount.create is false",
    );
  });

  it("finds the API server's refusals in a controller log, and not AWS's", () => {
    const log = [
      // A typed client's error, as pino logs it.
      String.raw`{"level":40,"time":1000,"err":"HTTP-Code: 403\nMessage: Unknown API Status Code!\nBody: \"{\\\"message\\\":\\\"users.identitycenter.dev is forbidden: User ...\"","msg":"reconcile failed; will retry"}`,
      // A watch refused.
      `{"level":40,"time":10000,"path":"/apis/apps/v1/namespaces/x/deployments","err":"Forbidden","msg":"watch failed; restarting"}`,
      // AWS refusing an AssumeRole is an account's problem, reported on the Account.
      `{"level":50,"time":3000,"err":"AccessDenied: User: arn:aws:iam::1:user/x is not authorized to perform: sts:AssumeRole","msg":"reconcile failed"}`,
      `{"level":30,"time":4000,"reason":"FieldValueForbidden","msg":"user invalid"}`,
    ].join("\n");
    expect(forbiddenRequests(log)).toHaveLength(2);
    // While the API server starts, its authorizer refuses everyone until its caches sync.
    expect(forbiddenRequests(log, [{ from: 500, to: 1500 }])).toHaveLength(1);
  });

  it("manifests/install.yaml is the chart with default values, its CRDs and the namespace", async () => {
    const install = parseManifests(
      await readFile(path.join(repoRoot, "manifests/install.yaml"), "utf8"),
    );
    expect(install[0]).toMatchObject({ kind: "Namespace", metadata: { name: CHART_NAMESPACE } });
    const crds = install.filter((o) => o.kind === "CustomResourceDefinition");
    expect(crds.map((c) => c.metadata.name).sort()).toEqual(
      KINDS.map((k) => `${k}.identitycenter.dev`).sort(),
    );
    // The release namespace comes first; the chart's own (the credentials') is in the render.
    const rest = install.slice(1).filter((o) => o.kind !== "CustomResourceDefinition");
    expect(rest).toEqual(defaults);
  });
});

// The tests below run in order: the first installs what the later ones use.
describe("installing manifests/install.yaml on a real API server", () => {
  const env = useTestEnvironment();
  let install: KubeObject[];
  let featured: KubeObject[];

  beforeAll(async () => {
    install = parseManifests(await readFile(path.join(repoRoot, "manifests/install.yaml"), "utf8"));
    featured = parseManifests(await helmTemplate({ values: allFeatures }));
  });

  it("passes a server-side apply dry run, then applies; every CRD becomes Established", async () => {
    const namespaces = install.filter((o) => o.kind === "Namespace");
    const rest = install.filter((o) => o.kind !== "Namespace");
    expect(namespaces.map((n) => n.metadata.name)).toEqual([
      CHART_NAMESPACE,
      CREDENTIALS_NAMESPACE,
    ]);
    // A dry run cannot create the namespaces the other objects go into.
    await applyAll(env(), namespaces, { fieldManager: "install-test" });
    await applyAll(env(), rest, { dryRun: true, fieldManager: "install-test" });
    for (const obj of rest) {
      const res = await env().apiServer.request("GET", await objectPath(env(), obj));
      expect(res.status, `${obj.kind} ${obj.metadata.name} stored by a dry run`).toBe(404);
    }

    await applyAll(env(), rest, { fieldManager: "install-test" });
    const crds = install.filter((o) => o.kind === "CustomResourceDefinition");
    for (const crd of crds) {
      const established = async () => {
        const res = await env().apiServer.request("GET", await objectPath(env(), crd));
        const conditions =
          (res.body as { status?: { conditions?: { type: string; status: string }[] } }).status
            ?.conditions ?? [];
        return conditions.some((c) => c.type === "Established" && c.status === "True");
      };
      await expect.poll(established, { timeout: 30_000 }).toBe(true);
    }
    for (const obj of install) {
      const res = await env().apiServer.request("GET", await objectPath(env(), obj));
      expect(res.status, `${obj.kind} ${obj.metadata.name}`).toBe(200);
    }
    // Applying again changes nothing and conflicts with nothing.
    await applyAll(env(), install, { fieldManager: "install-test" });
  });

  it("admits every optional object of the chart (but the ServiceMonitor) with a dry run", async () => {
    const objects = featured.filter((o) => o.kind !== "ServiceMonitor");
    await applyAll(env(), objects, { dryRun: true, fieldManager: "install-test" });
    // The IdentityCenter from the values passes the CRD's schema and CEL rules.
    expect(objects.some((o) => o.kind === "IdentityCenter")).toBe(true);
  });

  it("runs a controller pod that meets the restricted Pod Security Standard", async () => {
    const ns = "restricted";
    await applyAll(env(), [
      {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: ns, labels: { "pod-security.kubernetes.io/enforce": "restricted" } },
      },
    ]);
    const pod = (spec: PodSpec): KubeObject => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "controller", namespace: ns },
      spec,
    });
    const template = deploymentOf(install).spec.template.spec;
    const admitted = await serverSideApply(env(), pod(template), { dryRun: true });
    expect(admitted.status, JSON.stringify(admitted.body)).toBe(201);
    // The check is real: the same pod without its security contexts is refused.
    const loose: PodSpec = {
      ...template,
      securityContext: {},
      containers: template.containers.map((c) => ({ ...c, securityContext: {} })),
    };
    const refused = await serverSideApply(env(), pod(loose), { dryRun: true });
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).toContain("violates PodSecurity");
  });

  it("installs as a second release with helm install, prints the next steps, and uninstalls", async () => {
    const kubeconfig = `--kubeconfig=${env().kubeconfigPath}`;
    const installed = await helm([
      "install",
      "second",
      CHART_DIR,
      "--namespace=second",
      "--create-namespace",
      kubeconfig,
      "--set=identityCenter.create=true",
      "--set=identityCenter.spec.portal.hostname=sso.second.example.com",
    ]);
    expect(installed.code, installed.stderr).toBe(0);
    const notes = installed.stdout.slice(installed.stdout.indexOf("NOTES:"));
    expect(notes).toContain("kubectl get identitycenters");
    expect(notes).toContain(
      "kubectl -n second exec deploy/second-identity-center-operator -- idc invite <user>",
    );
    expect(notes).toContain('IdentityCenter "default"');
    expect(notes).toContain("AWS credentials: none are configured");
    const deployment =
      "/apis/apps/v1/namespaces/second/deployments/second-identity-center-operator";
    const instance = "/apis/identitycenter.dev/v1alpha1/identitycenters/default";
    const portalRole =
      "/apis/rbac.authorization.k8s.io/v1/clusterroles/second-identity-center-operator-portal";
    for (const url of [deployment, instance, portalRole]) {
      expect((await env().apiServer.request("GET", url)).status, url).toBe(200);
    }

    const uninstalled = await helm(["uninstall", "second", "--namespace=second", kubeconfig]);
    expect(uninstalled.code, uninstalled.stderr).toBe(0);
    for (const url of [deployment, portalRole]) {
      expect((await env().apiServer.request("GET", url)).status, url).toBe(404);
    }
    // Helm never deletes CRDs (and with them every custom resource).
    const crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/users.identitycenter.dev";
    expect((await env().apiServer.request("GET", crd)).status).toBe(200);
  });

  it("runs idc controller with the Deployment's flags under install.yaml's RBAC: the samples bring up the portal", async () => {
    // The flags of the chart's container, but the namespace and health address of this process.
    // AWS is pointed at a closed loopback port: this test is about the Kubernetes side only.
    const flags = containerOf(install).args.filter(
      (a) => a !== "controller" && !/^--(namespace|health-addr)=/.test(a),
    );
    const controller = await startControllerProcess({
      kubeconfig: await env().kubeconfigFor(CONTROLLER_SERVICE_ACCOUNT),
      workDir: env().workDir,
      identity: "chart",
      namespace: CHART_NAMESPACE,
      args: [...flags, "--aws-endpoint=http://127.0.0.1:9"],
      env: {
        AWS_ACCESS_KEY_ID: "unused",
        AWS_SECRET_ACCESS_KEY: "unused",
        AWS_EC2_METADATA_DISABLED: "true",
      },
    });
    try {
      await waitFor("the controller to be ready", () => controller.ready());
      const samples = path.join(repoRoot, "manifests/samples");
      for (const file of (await readdir(samples)).filter((f) => f.endsWith(".yaml")).sort())
        await applyAll(env(), parseManifests(await readFile(path.join(samples, file), "utf8")));
      const ns = `/namespaces/${CHART_NAMESPACE}`;
      const portal = `/apis/apps/v1${ns}/deployments/identitycenter-default-portal`;
      await expect
        .poll(async () => (await env().apiServer.request("GET", portal)).body, { timeout: 20_000 })
        .toMatchObject({
          spec: {
            replicas: 2,
            template: {
              spec: {
                serviceAccountName: "identitycenter-default-portal",
                containers: [{ image: `${IMAGE}:0.1.0` }],
              },
            },
          },
        });
      const ingress = `/apis/networking.k8s.io/v1${ns}/ingresses/identitycenter-default-portal`;
      // Applied one after the other: the Ingress comes a moment after the Deployment.
      await expect
        .poll(async () => (await env().apiServer.request("GET", ingress)).body, { timeout: 20_000 })
        .toMatchObject({
          metadata: { annotations: { "cert-manager.io/cluster-issuer": "letsencrypt" } },
          spec: {
            ingressClassName: "nginx",
            tls: [{ hosts: ["sso.example.com"], secretName: "sso-example-com-tls" }],
            rules: [{ host: "sso.example.com" }],
          },
        });
      const service = `/api/v1${ns}/services/identitycenter-default-portal`;
      expect((await env().apiServer.request("GET", service)).status).toBe(200);
      // The portal's read access comes from the chart's binding; the controller makes none.
      const crbs = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings";
      expect(
        (await env().apiServer.request("GET", `${crbs}/identitycenter-default-portal`)).status,
      ).toBe(404);
      expect(
        (await env().apiServer.request("GET", `${crbs}/identity-center-operator-portal`)).body,
      ).toMatchObject({
        roleRef: { kind: "ClusterRole", name: "identity-center-operator-portal" },
      });
      const instance = "/apis/identitycenter.dev/v1alpha1/identitycenters/default";
      // No kubelet runs here, so no portal replica becomes ready...
      await expect
        .poll(async () => (await env().apiServer.request("GET", instance)).body, {
          timeout: 20_000,
        })
        .toMatchObject({
          status: {
            portalUrl: "https://sso.example.com",
            conditions: [{ type: "Ready", status: "False", reason: "PortalUnavailable" }],
          },
        });
      // ...until the Deployment reports ready replicas, as its controller would.
      const current = (await env().apiServer.request("GET", portal)).body as KubeObject;
      const status = await env().apiServer.request("PUT", `${portal}/status`, {
        ...current,
        status: { replicas: 2, readyReplicas: 2, availableReplicas: 2 },
      });
      expect(status.status).toBe(200);
      await expect
        .poll(async () => (await env().apiServer.request("GET", instance)).body, {
          timeout: 20_000,
        })
        .toMatchObject({
          status: {
            readyReplicas: 2,
            conditions: [{ type: "Ready", status: "True", reason: "PortalAvailable" }],
          },
        });
    } finally {
      // Fails the test if the API server refused the controller anything.
      await controller.stop("SIGTERM", env().apiServer.startingPeriods);
    }
  });

  it("gives the controller's ServiceAccount what the chart grants and nothing more", async () => {
    const token = env().tokenOf(CONTROLLER_SERVICE_ACCOUNT);
    const as = (method: string, url: string, body?: unknown) =>
      env().apiServer.request(method, url, body, { token });
    const status = async (method: string, url: string, body?: unknown) =>
      (await as(method, url, body)).status;
    // The authorizer's cache follows the bindings just created; wait for it once.
    await expect
      .poll(() => status("GET", "/apis/identitycenter.dev/v1alpha1/users"), { timeout: 10_000 })
      .toBe(200);

    // The Secrets of its two namespaces (it watches the Applications' signing Secrets).
    expect(await status("GET", `/api/v1/namespaces/${CHART_NAMESPACE}/secrets`)).toBe(200);
    expect(await status("GET", `/api/v1/namespaces/${CREDENTIALS_NAMESPACE}/secrets`)).toBe(200);
    expect(await status("GET", "/api/v1/namespaces/default/secrets")).toBe(403);
    expect(await status("GET", "/api/v1/secrets")).toBe(403);
    expect(await status("GET", "/api/v1/namespaces/default/pods")).toBe(403);
    // Users and Groups: RBAC lets the namespace's ServiceAccounts write them (for the portals'
    // SCIM endpoint), and install.yaml's admission policy refuses the controller.
    const users = "/apis/identitycenter.dev/v1alpha1/users";
    const user = (name: string) => ({
      apiVersion: "identitycenter.dev/v1alpha1",
      kind: "User",
      metadata: { name },
      spec: { userName: name, email: `${name}@example.com` },
    });
    expect((await env().apiServer.request("POST", users, user("gitops-olivia"))).status).toBe(201);
    // The policy takes effect shortly after it is applied: a dry run until then.
    await expect
      .poll(() => status("DELETE", `${users}/gitops-olivia?dryRun=All`), { timeout: 10_000 })
      .toBe(403);
    const current = (await env().apiServer.request("GET", `${users}/gitops-olivia`))
      .body as KubeObject;
    for (const [method, url, body] of [
      ["DELETE", `${users}/gitops-olivia`, undefined],
      [
        "PUT",
        `${users}/gitops-olivia`,
        { ...current, spec: { userName: "gitops-olivia", email: "m@x.io" } },
      ],
      ["POST", users, user("mallory")],
    ] as const) {
      const refused = await as(method, url, body);
      expect(refused.status, `${method} ${url}`).toBe(403);
      expect(JSON.stringify(refused.body)).toContain("only the portals write Users and Groups");
    }

    const binding = (role: string) => ({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: `test-${role}` },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
      subjects: [{ kind: "ServiceAccount", name: "someone", namespace: CHART_NAMESPACE }],
    });
    const dryRun = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?dryRun=All";
    // It binds nothing cluster-wide: not even the portal's read-only role, nor its own.
    for (const role of ["identity-center-operator-portal", "identity-center-operator"]) {
      const refused = await as("POST", dryRun, binding(role));
      expect(refused.status, role).toBe(403);
      expect(JSON.stringify(refused.body)).toContain("cannot create resource");
    }
  });
});
