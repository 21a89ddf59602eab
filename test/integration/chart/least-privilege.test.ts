import { CoreV1Api, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import {
  CHART_NAMESPACE,
  CONTROLLER_SERVICE_ACCOUNT,
  PORTAL_SERVICE_ACCOUNT,
  applyAll,
  renderedChart,
} from "../../harness/chart.ts";
import { applicationSigningSecretName } from "../../../src/plan/naming.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { customObjects } from "../../harness/k8s.ts";
import { useControllerProcess } from "../../harness/use-controller.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { waitFor } from "../../harness/wait.ts";

/**
 * What each identity the chart creates may do, asked of the real API server's RBAC authorizer
 * with SelfSubjectAccessReview (the identity's own token, groups as its ServiceAccount token
 * would carry them), after the controller has made the portal's identity for an instance.
 */
const NS = CHART_NAMESPACE;
const CREDENTIALS_NS = `${NS}-credentials`;
const PORTAL = "identitycenter-default-portal";
const SIGNING = "identitycenter-default-signing";
const SESSION = "identitycenter-default-session";
const SCIM_TOKENS = "identitycenter-default-scim-tokens";
const AWS_SECRET = "aws-credentials";
const HELM_RELEASE = "sh.helm.release.v1.identity-center-operator.v1";
const poll = { timeout: 20_000, interval: 100 };
const USERS = "/apis/identitycenter.dev/v1alpha1/users";

/** The chart's admission policy that keeps GitOps and SCIM apart (templates/scim.yaml). */
const scimPolicy = async () =>
  (await renderedChart()).filter((o) => o.kind.startsWith("ValidatingAdmissionPolicy"));

interface Attributes {
  verb: string;
  resource: string;
  group?: string;
  namespace?: string;
  name?: string;
}

describe("least privilege: what the portal and the controller may do", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles() });
  useControllerProcess(env, {
    identity: "least-privilege",
    args: ["--leader-elect=false", "--portal-image=registry.example.com/idc:1.0.0"],
  });

  /** Whether the API server lets `user` do `attributes` (SelfSubjectAccessReview). */
  const can = async (user: string, attributes: Attributes): Promise<boolean> => {
    const res = await env().apiServer.request(
      "POST",
      "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
      {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SelfSubjectAccessReview",
        spec: {
          resourceAttributes: {
            group: attributes.group ?? "",
            resource: attributes.resource,
            verb: attributes.verb,
            ...(attributes.namespace ? { namespace: attributes.namespace } : {}),
            ...(attributes.name ? { name: attributes.name } : {}),
          },
        },
      },
      { token: env().tokenOf(user) },
    );
    if (res.status !== 201) throw new Error(`SelfSubjectAccessReview: ${JSON.stringify(res.body)}`);
    return (res.body as { status?: { allowed?: boolean } }).status?.allowed === true;
  };
  const secret = (verb: string, namespace: string, name?: string): Attributes => ({
    verb,
    resource: "secrets",
    namespace,
    ...(name ? { name } : {}),
  });
  const clusterRoleBinding = (verb: string, name?: string): Attributes => ({
    verb,
    resource: "clusterrolebindings",
    group: "rbac.authorization.k8s.io",
    ...(name ? { name } : {}),
  });

  beforeAll(async () => {
    const kc = env().kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    // What else lives in the operator namespace of a real install.
    await core.createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: { name: AWS_SECRET },
        stringData: { AWS_ACCESS_KEY_ID: "AKIA", AWS_SECRET_ACCESS_KEY: "secret" },
      },
    });
    await core.createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: { name: HELM_RELEASE, labels: { owner: "helm" } },
        type: "helm.sh/release.v1",
        stringData: { release: "values with passwords" },
      },
    });
    await customObjects(kc).create("identitycenters", "IdentityCenter", "default", {
      portal: { hostname: "sso.example.com" },
    });
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await waitFor("the controller to make the portal's RoleBinding", () =>
      rbac.readNamespacedRoleBinding({ name: PORTAL, namespace: NS }).then(() => true),
    );
    // The authorizer's cache follows the bindings just made: wait for the grants to show.
    await waitFor("the portal's Role to take effect", () =>
      can(PORTAL_SERVICE_ACCOUNT, secret("get", NS, SIGNING)),
    );
  });

  it("the controller, not the internet-facing portal, creates the session-key Secret", async () => {
    const core = env().kubeConfig().makeApiClient(CoreV1Api);
    await expect
      .poll(
        () =>
          core.readNamespacedSecret({ name: SESSION, namespace: NS }).then(
            // `data` is base64 of the stored value, which is the key in base64.
            (s) =>
              Buffer.from(Buffer.from(s.data?.key ?? "", "base64").toString(), "base64").length,
            () => 0,
          ),
        poll,
      )
      .toBe(32);
  });

  it("the portal reads its signing, session and SCIM token Secrets by name only", async () => {
    expect(await can(PORTAL_SERVICE_ACCOUNT, secret("get", NS, SIGNING))).toBe(true);
    expect(await can(PORTAL_SERVICE_ACCOUNT, secret("get", NS, SESSION))).toBe(true);
    expect(await can(PORTAL_SERVICE_ACCOUNT, secret("get", NS, SCIM_TOKENS))).toBe(true);
    for (const verb of ["update", "patch", "delete"])
      expect(await can(PORTAL_SERVICE_ACCOUNT, secret(verb, NS, SCIM_TOKENS)), verb).toBe(false);
    const role = await env()
      .kubeConfig()
      .makeApiClient(RbacAuthorizationV1Api)
      .readNamespacedRole({ name: PORTAL, namespace: NS });
    expect(role.rules).toEqual([
      expect.objectContaining({
        apiGroups: [""],
        resources: ["secrets"],
        resourceNames: [SIGNING, SESSION, SCIM_TOKENS],
        verbs: ["get"],
      }),
    ]);
  });

  it("a compromised portal cannot read the AWS management credentials or a Helm release Secret", async () => {
    expect(await can(PORTAL_SERVICE_ACCOUNT, secret("get", NS, AWS_SECRET))).toBe(false);
    expect(await can(PORTAL_SERVICE_ACCOUNT, secret("get", NS, HELM_RELEASE))).toBe(false);
    // The real request, too.
    const token = env().tokenOf(PORTAL_SERVICE_ACCOUNT);
    const read = await env().apiServer.request(
      "GET",
      `/api/v1/namespaces/${NS}/secrets/${AWS_SECRET}`,
      undefined,
      { token },
    );
    expect(read.status).toBe(403);
  });

  it("a compromised portal cannot list or watch the operator namespace's Secrets (finding every key)", async () => {
    for (const verb of ["list", "watch"])
      expect(await can(PORTAL_SERVICE_ACCOUNT, secret(verb, NS)), verb).toBe(false);
    const listed = await env().apiServer.request(
      "GET",
      `/api/v1/namespaces/${NS}/secrets`,
      undefined,
      { token: env().tokenOf(PORTAL_SERVICE_ACCOUNT) },
    );
    expect(listed.status).toBe(403);
  });

  it("a compromised portal cannot overwrite or create Secrets of the operator namespace (swapping the signing key)", async () => {
    for (const verb of ["update", "patch", "delete"])
      expect(await can(PORTAL_SERVICE_ACCOUNT, secret(verb, NS, SIGNING)), verb).toBe(false);
    expect(await can(PORTAL_SERVICE_ACCOUNT, secret("create", NS))).toBe(false);
    expect(await can(PORTAL_SERVICE_ACCOUNT, secret("get", "default", SIGNING))).toBe(false);
  });

  it("the portal manages credential records only in their own namespace, and watches them there only (its session cache)", async () => {
    for (const verb of ["get", "update", "patch"])
      expect(
        await can(PORTAL_SERVICE_ACCOUNT, secret(verb, CREDENTIALS_NS, "idc-credentials-x")),
        verb,
      ).toBe(true);
    expect(await can(PORTAL_SERVICE_ACCOUNT, secret("create", CREDENTIALS_NS))).toBe(true);
    // List and watch feed the session check's cache (docs/adr/0021); never deleting a record.
    for (const verb of ["list", "watch"])
      expect(await can(PORTAL_SERVICE_ACCOUNT, secret(verb, CREDENTIALS_NS)), verb).toBe(true);
    for (const verb of ["delete", "deletecollection"])
      expect(await can(PORTAL_SERVICE_ACCOUNT, secret(verb, CREDENTIALS_NS)), verb).toBe(false);
  });

  it("the portal reads an Application's signing Secret by name while the Application exists, and no other", async () => {
    const objects = customObjects(env().kubeConfig());
    const wiki = applicationSigningSecretName("wiki");
    await objects.create("applications", "Application", "wiki", {
      displayName: "Team wiki",
      entityId: "https://wiki.example.com/saml",
      acsUrl: "https://wiki.example.com/saml/acs",
    });
    await expect.poll(() => can(PORTAL_SERVICE_ACCOUNT, secret("get", NS, wiki)), poll).toBe(true);
    // A name shaped like an Application's key, for no Application: not readable.
    expect(
      await can(PORTAL_SERVICE_ACCOUNT, secret("get", NS, applicationSigningSecretName("nobody"))),
    ).toBe(false);
    for (const verb of ["update", "patch", "delete"])
      expect(await can(PORTAL_SERVICE_ACCOUNT, secret(verb, NS, wiki)), verb).toBe(false);
    await objects.delete("applications", "wiki");
    await expect.poll(() => can(PORTAL_SERVICE_ACCOUNT, secret("get", NS, wiki)), poll).toBe(false);
  });

  it("a compromised portal cannot mint tokens, start pods or delete credential records", async () => {
    const user = PORTAL_SERVICE_ACCOUNT;
    const inNs = (resource: string, verb: string, namespace = NS) => ({
      resource,
      verb,
      namespace,
    });
    expect(await can(user, { ...inNs("serviceaccounts/token", "create"), name: "default" })).toBe(
      false,
    );
    expect(await can(user, inNs("pods", "create"))).toBe(false);
    expect(await can(user, inNs("pods/exec", "create"))).toBe(false);
    expect(await can(user, secret("delete", CREDENTIALS_NS, "idc-credentials-x"))).toBe(false);
    expect(await can(user, secret("deletecollection", CREDENTIALS_NS))).toBe(false);
    expect(
      await can(user, {
        verb: "create",
        resource: "roles",
        group: "rbac.authorization.k8s.io",
        namespace: NS,
      }),
    ).toBe(false);
  });

  it("the controller has the rights it uses, and none on other namespaces, RBAC outside its own or the custom resources' specs", async () => {
    const user = CONTROLLER_SERVICE_ACCOUNT;
    const allowed: Attributes[] = [
      // The signing-Secret caches watch the operator namespace's Secrets.
      secret("list", NS),
      secret("watch", NS),
      secret("create", NS),
      // Stale credential records are deleted.
      secret("list", CREDENTIALS_NS),
      secret("delete", CREDENTIALS_NS, "idc-credentials-x"),
      { verb: "create", resource: "deployments", group: "apps", namespace: NS },
      { verb: "update", resource: "leases", group: "coordination.k8s.io", namespace: NS },
      { verb: "create", resource: "roles", group: "rbac.authorization.k8s.io", namespace: NS },
      { verb: "update", resource: "users/status", group: "identitycenter.dev" },
      { verb: "list", resource: "users", group: "identitycenter.dev" },
    ];
    for (const a of allowed) expect(await can(user, a), JSON.stringify(a)).toBe(true);
    const refused: Attributes[] = [
      { verb: "create", resource: "applications", group: "identitycenter.dev" },
      { verb: "delete", resource: "permissionsets", group: "identitycenter.dev" },
      { verb: "create", resource: "clusterroles", group: "rbac.authorization.k8s.io" },
      {
        verb: "create",
        resource: "roles",
        group: "rbac.authorization.k8s.io",
        namespace: "default",
      },
      {
        verb: "create",
        resource: "rolebindings",
        group: "rbac.authorization.k8s.io",
        namespace: "kube-system",
      },
      { verb: "create", resource: "deployments", group: "apps", namespace: "default" },
      { verb: "create", resource: "pods", namespace: NS },
      { verb: "create", resource: "serviceaccounts/token", namespace: NS, name: "default" },
      { verb: "delete", resource: "namespaces", name: CREDENTIALS_NS },
      { verb: "create", resource: "customresourcedefinitions", group: "apiextensions.k8s.io" },
    ];
    for (const a of refused) expect(await can(user, a), JSON.stringify(a)).toBe(false);
    // RBAC lets the namespace's ServiceAccounts write Users (the portals' SCIM endpoint needs
    // it); the chart's admission policy refuses the controller the real request.
    await applyAll(env(), await scimPolicy(), { fieldManager: "helm" });
    const objects = customObjects(env().kubeConfig());
    // (A dry run until the policy takes effect: admission sees it, nothing is deleted.)
    await objects.create("users", "User", "gitops-eve", { userName: "eve", email: "e@x.io" });
    const asController = (method: string, url: string, body?: unknown) =>
      env().apiServer.request(method, url, body, { token: env().tokenOf(user) });
    await expect
      .poll(
        async () => (await asController("DELETE", `${USERS}/gitops-eve?dryRun=All`)).status,
        poll,
      )
      .toBe(403);
    const rewrite = await asController("PUT", `${USERS}/gitops-eve`, {
      ...(await objects.get("users", "gitops-eve")),
      spec: { userName: "mallory", email: "mallory@example.com" },
    });
    expect(rewrite.status).toBe(403);
    expect(JSON.stringify(rewrite.body)).toContain("only the portals write Users and Groups");
    expect((await objects.get("users", "gitops-eve")).spec.userName).toBe("eve");
  });

  it("the portal only reads the custom resources, but Users and Groups, which it writes only for SCIM", async () => {
    const kind = (resource: string) => ({ group: "identitycenter.dev", resource });
    for (const verb of ["get", "list", "watch"])
      expect(await can(PORTAL_SERVICE_ACCOUNT, { ...kind("users"), verb }), verb).toBe(true);
    for (const resource of ["permissionsets", "accountassignments", "applications", "accounts"])
      for (const verb of ["create", "update", "delete"])
        expect(await can(PORTAL_SERVICE_ACCOUNT, { ...kind(resource), verb }), verb).toBe(false);
    for (const verb of ["create", "update", "delete"])
      expect(await can(PORTAL_SERVICE_ACCOUNT, { ...kind("users"), verb }), verb).toBe(true);
    // The admission policy keeps a (compromised) portal off the objects GitOps owns.
    await applyAll(env(), await scimPolicy(), { fieldManager: "helm" });
    const objects = customObjects(env().kubeConfig());
    await objects.create("users", "User", "gitops-frank", { userName: "frank", email: "f@x.io" });
    const asPortal = (method: string, url: string, body?: unknown) =>
      env().apiServer.request(method, url, body, { token: env().tokenOf(PORTAL_SERVICE_ACCOUNT) });
    await expect
      .poll(async () => (await asPortal("DELETE", `${USERS}/gitops-frank?dryRun=All`)).status, poll)
      .toBe(403);
    const refused = await asPortal("PUT", `${USERS}/gitops-frank`, {
      ...(await objects.get("users", "gitops-frank")),
      spec: { userName: "frank", email: "mallory@example.com" },
    });
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).toContain("belongs to GitOps or kubectl");
  });

  it("a compromised controller cannot delete, rewrite or create an arbitrary ClusterRoleBinding (binding its role to anyone)", async () => {
    const user = CONTROLLER_SERVICE_ACCOUNT;
    for (const verb of ["delete", "update", "patch", "get"])
      expect(await can(user, clusterRoleBinding(verb, "cluster-admin")), verb).toBe(false);
    for (const verb of ["create", "list", "watch", "deletecollection"])
      expect(await can(user, clusterRoleBinding(verb)), verb).toBe(false);
    // The real request: binding the controller's own ClusterRole to another subject.
    const res = await env().apiServer.request(
      "POST",
      "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?dryRun=All",
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: { name: "mallory-is-the-operator" },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "ClusterRole",
          name: "identity-center-operator",
        },
        subjects: [{ kind: "User", name: "mallory", apiGroup: "rbac.authorization.k8s.io" }],
      },
      { token: env().tokenOf(user) },
    );
    expect(res.status).toBe(403);
  });

  it("a compromised controller cannot read Secrets outside its namespaces", async () => {
    const user = CONTROLLER_SERVICE_ACCOUNT;
    expect(await can(user, secret("get", "default", "anything"))).toBe(false);
    expect(await can(user, secret("list", "kube-system"))).toBe(false);
    expect(await can(user, { verb: "list", resource: "secrets" })).toBe(false);
  });
});
