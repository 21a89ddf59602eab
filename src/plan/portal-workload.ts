import type {
  KubernetesObject,
  V1Deployment,
  V1Ingress,
  V1PodDisruptionBudget,
  V1Role,
  V1RoleBinding,
  V1Service,
  V1ServiceAccount,
} from "@kubernetes/client-node";
import { scimTokensSecretName } from "./scim/tokens.ts";
import type { IdentityCenter } from "../api/v1alpha1/index.ts";
import { DEFAULT_PASSWORD_HASHING } from "../api/v1alpha1/identity-center.ts";
import {
  INSTANCE_KEY,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  sessionSecretName,
  signingSecretName,
} from "./naming.ts";
import { portalMemoryMiB } from "./portal-sizing.ts";

const PORTAL_COMPONENT = "portal";
const PORTAL_PORT = 8080;
const METRICS_PORT = 9090;

export interface PortalWorkloadOptions {
  /** The operator's namespace: the portal runs next to its Secrets. */
  namespace: string;
  /** Image used when the IdentityCenter names none: the controller's own. */
  defaultImage: string;
  /** Where the users' credential records live: the only Secrets the portal may write. */
  credentialsNamespace: string;
  /**
   * The Secrets of the operator namespace the portal may `get`, by name (see
   * portalReadableSecrets); it can neither list them nor read any other.
   */
  readableSecrets: readonly string[];
  /** SHA-256 of the signing certificate; a new certificate rolls the portal's pods. */
  signingFingerprint: string;
}

/**
 * The Secrets of the operator namespace one instance's portal reads: its signing key, its
 * session key, its SCIM token hashes, and the signing key of each Application it signs in to (`applicationSecrets`).
 * Everything else there (the AWS management credentials, Helm's release Secrets, other
 * instances' keys) stays out of its reach.
 */
export function portalReadableSecrets(
  instance: string,
  applicationSecrets: readonly string[] = [],
  /** The upstream identity provider's client secret (spec.identitySource.oidc.clientSecret). */
  upstreamSecrets: readonly string[] = [],
): string[] {
  return [
    signingSecretName(instance),
    sessionSecretName(instance),
    // The hashes of its SCIM bearer tokens (idc scim-token writes them; the portal only reads).
    scimTokensSecretName(instance),
    ...[...new Set([...applicationSecrets, ...upstreamSecrets])].sort(),
  ];
}

/** Names of everything made for one instance; Services need a DNS-1035 label, hence the prefix. */
export const portalName = (instance: string) => `identitycenter-${instance}-portal`;

/** Labels that find the portal objects of one instance (and only ours). */
export function portalLabels(instance: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "identity-center-portal",
    "app.kubernetes.io/instance": instance,
    "app.kubernetes.io/component": PORTAL_COMPONENT,
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [INSTANCE_KEY]: instance,
  };
}

export const portalSelector = (instance: string): Record<string, string> => ({
  "app.kubernetes.io/name": "identity-center-portal",
  [INSTANCE_KEY]: instance,
});

/**
 * The kinds the controller may create for a portal, in the order they are applied; all in the
 * operator namespace.
 */
export const PORTAL_KINDS = [
  { apiVersion: "v1", kind: "ServiceAccount", plural: "serviceaccounts" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", plural: "roles" },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    plural: "rolebindings",
  },
  { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments" },
  { apiVersion: "v1", kind: "Service", plural: "services" },
  { apiVersion: "networking.k8s.io/v1", kind: "Ingress", plural: "ingresses" },
  {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    plural: "poddisruptionbudgets",
  },
] as const;

export type PortalKind = (typeof PORTAL_KINDS)[number];

/** Selects every portal object the operator made, whatever the instance. */
export const OWNED_PORTAL_SELECTOR = `app.kubernetes.io/managed-by=${MANAGED_BY},app.kubernetes.io/component=${PORTAL_COMPONENT}`;

function metadata(ic: IdentityCenter, namespace: string) {
  const name = ic.metadata.name;
  return {
    name: portalName(name),
    namespace,
    labels: portalLabels(name),
    // A namespaced object may be owned by a cluster-scoped one; deleting the IdentityCenter
    // lets the garbage collector remove the whole portal.
    ownerReferences: [
      {
        apiVersion: "identitycenter.dev/v1alpha1",
        kind: "IdentityCenter",
        name,
        uid: ic.metadata.uid ?? "",
        controller: true,
        blockOwnerDeletion: true,
      },
    ],
  };
}

function deployment(ic: IdentityCenter, options: PortalWorkloadOptions): V1Deployment {
  const instance = ic.metadata.name;
  const labels = portalLabels(instance);
  const hashConcurrency = ic.spec.portal.passwordHashConcurrency;
  const memoryMiB = portalMemoryMiB(
    hashConcurrency,
    (ic.spec.signIn.passwordHashing ?? DEFAULT_PASSWORD_HASHING).memoryKiB,
  );
  const probe = (path: string, periodSeconds: number) => ({
    httpGet: { path, port: "http" },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold: 3,
  });
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: metadata(ic, options.namespace),
    spec: {
      replicas: ic.spec.portal.replicas,
      selector: { matchLabels: portalSelector(instance) },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels,
          annotations: {
            "identitycenter.dev/signing-certificate-sha256": options.signingFingerprint,
          },
        },
        spec: {
          serviceAccountName: portalName(instance),
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            fsGroup: 65532,
            seccompProfile: { type: "RuntimeDefault" },
          },
          // Replicas on different nodes where possible, so one node going away keeps sign-in up.
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: "kubernetes.io/hostname",
              whenUnsatisfiable: "ScheduleAnyway",
              labelSelector: { matchLabels: portalSelector(instance) },
            },
          ],
          containers: [
            {
              name: "portal",
              image: ic.spec.portal.image ?? options.defaultImage,
              args: [
                "portal",
                `--listen=0.0.0.0:${String(PORTAL_PORT)}`,
                `--instance=${instance}`,
                `--namespace=${options.namespace}`,
                `--credentials-namespace=${options.credentialsNamespace}`,
                `--metrics-addr=0.0.0.0:${String(METRICS_PORT)}`,
                `--hash-concurrency=${String(hashConcurrency)}`,
              ],
              // The binding hashes on libuv's pool (4 threads by default).
              env: [{ name: "UV_THREADPOOL_SIZE", value: String(Math.max(4, hashConcurrency)) }],
              ports: [
                { name: "http", containerPort: PORTAL_PORT, protocol: "TCP" },
                { name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" },
              ],
              readinessProbe: probe("/readyz", 5),
              livenessProbe: probe("/healthz", 10),
              // Each password check holds its Argon2 memory outside the JS heap: the limit is the
              // portal's base plus that many checks, the number the portal lets run at once.
              resources: {
                requests: { cpu: "100m", memory: `${String(memoryMiB)}Mi` },
                limits: { memory: `${String(memoryMiB)}Mi` },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
              },
            },
          ],
        },
      },
    },
  };
}

function service(ic: IdentityCenter, namespace: string): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: metadata(ic, namespace),
    spec: {
      type: "ClusterIP",
      selector: portalSelector(ic.metadata.name),
      // The Ingress routes to `http` only; `metrics` is for in-cluster scrapers.
      ports: [
        { name: "http", port: 80, targetPort: "http", protocol: "TCP" },
        { name: "metrics", port: METRICS_PORT, targetPort: "metrics", protocol: "TCP" },
      ],
    },
  };
}

function ingress(ic: IdentityCenter, namespace: string): V1Ingress {
  const { hostname, ingress: settings } = ic.spec.portal;
  const base = metadata(ic, namespace);
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { ...base, ...(settings.annotations ? { annotations: settings.annotations } : {}) },
    spec: {
      ...(settings.className ? { ingressClassName: settings.className } : {}),
      ...(settings.tlsSecretName
        ? { tls: [{ hosts: [hostname], secretName: settings.tlsSecretName }] }
        : {}),
      rules: [
        {
          host: hostname,
          http: {
            paths: [
              {
                path: "/",
                pathType: "Prefix",
                backend: {
                  service: { name: portalName(ic.metadata.name), port: { name: "http" } },
                },
              },
            ],
          },
        },
      ],
    },
  };
}

function disruptionBudget(ic: IdentityCenter, namespace: string): V1PodDisruptionBudget {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: metadata(ic, namespace),
    spec: { maxUnavailable: 1, selector: { matchLabels: portalSelector(ic.metadata.name) } },
  };
}

function identity(
  ic: IdentityCenter,
  options: PortalWorkloadOptions,
): [V1ServiceAccount, V1Role, V1RoleBinding] {
  const name = portalName(ic.metadata.name);
  const subject = { kind: "ServiceAccount", name, namespace: options.namespace };
  // Reading the custom resources and the credential records is granted by the chart (bindings
  // to the ServiceAccounts of the operator namespace), so the controller needs no right to
  // write ClusterRoleBindings; see docs/adr/0009-threat-model-and-least-privilege.md.
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: metadata(ic, options.namespace) },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: metadata(ic, options.namespace),
      // `get` by name only: RBAC cannot narrow list or watch by name, and the portal needs
      // neither.
      rules: [
        {
          apiGroups: [""],
          resources: ["secrets"],
          resourceNames: [...options.readableSecrets],
          verbs: ["get"],
        },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: metadata(ic, options.namespace),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [subject],
    },
  ];
}

/**
 * Every object the portal of one IdentityCenter needs, as the controller applies them. The
 * Ingress exists only when enabled and the PodDisruptionBudget only with more than one replica
 * (with one, a budget would block every node drain).
 */
export function desiredPortalObjects(
  ic: IdentityCenter,
  options: PortalWorkloadOptions,
): KubernetesObject[] {
  const { namespace } = options;
  return [
    ...identity(ic, options),
    deployment(ic, options),
    service(ic, namespace),
    ...(ic.spec.portal.ingress.enabled ? [ingress(ic, namespace)] : []),
    ...(ic.spec.portal.replicas > 1 ? [disruptionBudget(ic, namespace)] : []),
  ];
}
