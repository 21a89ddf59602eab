import { setTimeout as sleep } from "node:timers/promises";
import { parseAllDocuments } from "yaml";
import { CHART_NAMESPACE, RELEASE_NAME, helmTemplate } from "../../scripts/toolchain/helm.ts";
import type { TestEnvironment } from "./environment.ts";

export {
  CHART_DIR,
  CHART_NAMESPACE,
  RELEASE_NAME,
  helm,
  helmLint,
  helmTemplate,
  type HelmResult,
  type TemplateOptions,
} from "../../scripts/toolchain/helm.ts";

/** The identity a controller pod of the chart has (its ServiceAccount, default values). */
export const CONTROLLER_SERVICE_ACCOUNT = serviceAccountUser(CHART_NAMESPACE, RELEASE_NAME);
/** The identity of the portal pods of the IdentityCenter named `default`. */
export const PORTAL_SERVICE_ACCOUNT = serviceAccountUser(
  CHART_NAMESPACE,
  "identitycenter-default-portal",
);

/** The user name the API server gives a ServiceAccount's tokens. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** The groups the API server gives a ServiceAccount's tokens. */
export function serviceAccountGroups(user: string): string[] {
  const namespace = user.split(":")[2] ?? "";
  return ["system:serviceaccounts", `system:serviceaccounts:${namespace}`, "system:authenticated"];
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

/** The objects of a multi-document YAML stream (empty documents dropped). */
export function parseManifests(yaml: string): KubeObject[] {
  return parseAllDocuments(yaml)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join("\n"));
      return doc.toJS() as KubeObject | null;
    })
    .filter((obj): obj is KubeObject => obj !== null);
}

const rendered = new Map<string, Promise<KubeObject[]>>();

/** The chart with default values, rendered once per process (and per namespace). */
export function renderedChart(namespace: string = CHART_NAMESPACE): Promise<KubeObject[]> {
  let objects = rendered.get(namespace);
  if (!objects) {
    objects = helmTemplate({ namespace }).then(parseManifests);
    rendered.set(namespace, objects);
    // A failed render is not cached: the next caller sees the error again, not a stale promise.
    objects.catch(() => rendered.delete(namespace));
  }
  return objects;
}

const RBAC_KINDS = new Set([
  "ServiceAccount",
  "ClusterRole",
  "ClusterRoleBinding",
  "Role",
  "RoleBinding",
]);

/** A kind's REST path, from the API server's discovery (so CRDs work as soon as they exist). */
async function collectionPath(env: TestEnvironment, obj: KubeObject): Promise<string> {
  const base = obj.apiVersion.includes("/") ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
  const res = await env.apiServer.request("GET", base);
  const resources = (
    res.body as { resources?: { name: string; kind: string; namespaced: boolean }[] }
  ).resources;
  const resource = resources?.find((r) => r.kind === obj.kind && !r.name.includes("/"));
  if (res.status !== 200 || !resource) {
    throw new Error(`the API server does not serve ${obj.apiVersion} ${obj.kind}`);
  }
  if (!resource.namespaced) return `${base}/${resource.name}`;
  const namespace = obj.metadata.namespace ?? "default";
  return `${base}/namespaces/${namespace}/${resource.name}`;
}

/** The REST path of one object, for a GET or a DELETE. */
export async function objectPath(env: TestEnvironment, obj: KubeObject): Promise<string> {
  return `${await collectionPath(env, obj)}/${obj.metadata.name}`;
}

export interface ApplyResult {
  status: number;
  body: unknown;
}

/**
 * Server-side apply of one object, sent raw (client-node would drop CRD schema keys), as the
 * admin. `dryRun` asks the API server to validate and admit it without storing it.
 */
export async function serverSideApply(
  env: TestEnvironment,
  obj: KubeObject,
  options: { dryRun?: boolean; fieldManager?: string } = {},
): Promise<ApplyResult> {
  const query = new URLSearchParams({
    fieldManager: options.fieldManager ?? "idc-tests",
    force: "true",
    ...(options.dryRun ? { dryRun: "All" } : {}),
  });
  const url = `${await objectPath(env, obj)}?${query.toString()}`;
  return env.apiServer.request("PATCH", url, obj, {
    contentType: "application/apply-patch+yaml",
  });
}

/** Applies every object (server-side), throwing with the API server's message on a failure. */
export async function applyAll(
  env: TestEnvironment,
  objects: KubeObject[],
  options: { dryRun?: boolean; fieldManager?: string } = {},
): Promise<void> {
  for (const obj of objects) {
    const res = await serverSideApply(env, obj, options);
    if (res.status !== 200 && res.status !== 201) {
      const what = `${obj.kind} ${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
      throw new Error(`applying ${what}: ${res.status} ${JSON.stringify(res.body)}`);
    }
  }
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
}

/** Asks the API server whether `user` may do what one rule of a role grants. */
async function allowed(
  env: TestEnvironment,
  user: string,
  check: { rule: PolicyRule; namespace: string | undefined },
): Promise<boolean> {
  const { rule, namespace } = check;
  const [resource = "", subresource] = (rule.resources?.[0] ?? "").split("/");
  const res = await env.apiServer.request(
    "POST",
    "/apis/authorization.k8s.io/v1/subjectaccessreviews",
    {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: {
        user,
        groups: serviceAccountGroups(user),
        resourceAttributes: {
          group: rule.apiGroups?.[0] ?? "",
          resource,
          ...(subresource ? { subresource } : {}),
          verb: rule.verbs[0],
          // A rule narrowed to names is granted for those names only.
          ...(rule.resourceNames?.[0] ? { name: rule.resourceNames[0] } : {}),
          ...(namespace ? { namespace } : {}),
        },
      },
    },
  );
  return (res.body as { status?: { allowed?: boolean } }).status?.allowed === true;
}

/**
 * Applies the chart's namespaces, ServiceAccount, ClusterRoles, ClusterRoleBindings, Roles and
 * RoleBindings (default values) and waits until the API server's authorizer grants every rule to the
 * controller's ServiceAccount, so a controller started next is never refused by a cache that
 * has not caught up. Returns the controller's user name.
 */
export async function applyChartRbac(
  env: TestEnvironment,
  namespace: string = CHART_NAMESPACE,
): Promise<string> {
  const rendered = await renderedChart(namespace);
  const objects = rendered.filter((o) => RBAC_KINDS.has(o.kind));
  // The release namespace, and the chart's own (the credential records' namespace).
  const namespaces = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
    ...rendered.filter((o) => o.kind === "Namespace"),
  ];
  await applyAll(env, [...namespaces, ...objects], { fieldManager: "helm" });
  const account = objects.find((o) => o.kind === "ServiceAccount");
  if (!account) throw new Error("the chart renders no ServiceAccount");
  const user = serviceAccountUser(namespace, account.metadata.name);
  const bound = new Set(
    objects
      .filter((o) => o.kind === "ClusterRoleBinding" || o.kind === "RoleBinding")
      .map((o) => `${o.metadata.namespace ?? ""}/${(o.roleRef as { name: string }).name}`),
  );
  const checks = objects
    .filter((o) => (o.kind === "ClusterRole" || o.kind === "Role") && bound.has(roleKey(o)))
    .flatMap((o) =>
      (o.rules as PolicyRule[]).map((rule) => ({ rule, namespace: o.metadata.namespace })),
    );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answers = await Promise.all(checks.map((check) => allowed(env, user, check)));
    if (answers.every(Boolean)) return user;
    if (Date.now() > deadline) {
      const denied = checks.filter((_, i) => !answers[i]).map((c) => JSON.stringify(c.rule));
      throw new Error(`the chart's RBAC does not grant ${user}:\n${denied.join("\n")}`);
    }
    await sleep(100);
  }
}

function roleKey(role: KubeObject): string {
  return `${role.kind === "Role" ? (role.metadata.namespace ?? "") : ""}/${role.metadata.name}`;
}

/**
 * A kubeconfig for the chart's controller ServiceAccount after applying the chart's RBAC: what
 * a controller pod installed by the chart can do, and nothing more.
 */
export async function chartControllerKubeconfig(env: TestEnvironment): Promise<string> {
  return env.kubeconfigFor(await applyChartRbac(env));
}
