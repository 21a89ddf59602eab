import { createPrivateKey, randomBytes } from "node:crypto";
import { CoreV1Api, type V1Secret } from "@kubernetes/client-node";
import { CredentialSessions } from "../../../src/adapters/k8s/credential-sessions.ts";
import { CredentialStore } from "../../../src/adapters/k8s/credential-store.ts";
import { KubernetesIdentitySourceWriter } from "../../../src/adapters/k8s/identity-source-writer.ts";
import { SecretDocument } from "../../../src/adapters/k8s/secret-document.ts";
import {
  deviceApprovalsSecretName,
  emptyApprovals,
} from "../../../src/portal/sso/device-approvals.ts";
import {
  emptyUsedAssertions,
  usedAssertionsSecretName,
} from "../../../src/portal/upstream-saml.ts";
import { loadKubeConfig } from "../../../src/adapters/k8s/kube-config.ts";
import {
  createStores,
  credentialOwners,
  portalInformers,
} from "../../../src/adapters/k8s/stores.ts";
import { startInformers } from "../../../src/runtime/informer.ts";
import { createLogger, type Logger } from "../../../src/observability/logger.ts";
import { PortalMetrics } from "../../../src/observability/metrics.ts";
import { buildPortalApp, type PortalDeps } from "../../../src/portal/app.ts";
import {
  applicationSigningSecretName,
  defaultCredentialsNamespace,
} from "../../../src/plan/naming.ts";
import { SecretApplicationKeys } from "../../../src/portal/application-keys.ts";
import { secretByName } from "../../../src/adapters/k8s/application-signing-secrets.ts";
import { certificateBase64 } from "../../../src/saml/signing-identity.ts";
import { chartControllerKubeconfig, PORTAL_SERVICE_ACCOUNT } from "../../harness/chart.ts";
import { motoControllerEnv, startControllerProcess } from "../../harness/controller-process.ts";
import type { TestEnvironment } from "../../harness/environment.ts";
import { createOperatorNamespaces, customObjects } from "../../harness/k8s.ts";
import { waitFor } from "../../harness/wait.ts";

export const NS = "identity-center-operator";
/** Where the users' credential records live (only they do). */
export const CREDENTIALS_NS = defaultCredentialsNamespace(NS);
export const A = "111111111111";
export const B = "222222222222";

/**
 * The organisation the portal tests sign in to: alice (in group admins) may use ReadOnlyAccess
 * in Production; bob's assignment to Staging must never show up for her. The controller
 * provisions the roles in moto; the portal app runs in-process on the same caches it would
 * use in its Deployment.
 */
export async function startPortalFixture(
  env: TestEnvironment,
  options: {
    externalUrl: string;
    signInUrl: string;
    now: () => Date;
    /** Where the portal logs (silent when unset); tests read it for secrets. */
    log?: Logger;
    /** The instance's spec.identitySource (internal when unset). */
    identitySource?: Record<string, unknown>;
    /** More flags of the controller (an upstream's --upstream-ca-file). */
    controllerArgs?: string[];
  },
) {
  const kc = env.kubeConfig();
  const { moto } = env;
  await createOperatorNamespaces(kc, NS);
  const objects = customObjects(kc);
  for (const id of [A, B]) await moto.createMemberAccount(id);
  await objects.create("identitycenters", "IdentityCenter", "default", {
    portal: { hostname: "sso.example.com", externalUrl: options.externalUrl },
    aws: { signInUrl: options.signInUrl, stsEndpoint: moto.endpoint },
    accessControlAttributes: [{ key: "Department", source: "attributes.department" }],
    ...(options.identitySource ? { identitySource: options.identitySource } : {}),
  });
  await objects.create("users", "User", "alice", {
    userName: "alice",
    email: "alice@example.com",
    displayName: `<script>alert("x")</script> ]]>`,
    name: { givenName: "Alice", familyName: "Liddell" },
    attributes: { department: `R&D "labs"` },
  });
  await objects.create("groups", "Group", "admins", { members: ["alice"] });
  await objects.create("permissionsets", "PermissionSet", "read-only", {
    name: "ReadOnlyAccess",
    managedPolicies: ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    relayState: "https://console.aws.amazon.com/s3/home",
  });
  await objects.create("accounts", "Account", "production", {
    accountId: A,
    displayName: "Production",
  });
  await objects.create("accounts", "Account", "staging", { accountId: B, displayName: "Staging" });
  await objects.create("accountassignments", "AccountAssignment", "admins-ro", {
    principal: { kind: "Group", name: "admins" },
    permissionSet: "read-only",
    accounts: ["production"],
  });
  await objects.create("accountassignments", "AccountAssignment", "bob-ro", {
    principal: { kind: "User", name: "bob" },
    permissionSet: "read-only",
    accounts: ["staging"],
  });
  // SAML applications: the wiki through the group, payroll directly (Response signed, opaque
  // NameID), the CRM assigned to no one she belongs to.
  await objects.create("applications", "Application", "wiki", {
    displayName: "Team wiki",
    entityId: "https://wiki.example.com/saml",
    acsUrl: "https://wiki.example.com/saml/acs",
    relayState: "/home",
    attributeMappings: [
      { name: "department", source: "attributes.department" },
      { name: "displayName", source: "displayName", nameFormat: "basic" },
      { name: "givenName", source: "givenName" },
      { name: "familyName", source: "familyName" },
      { name: "role", value: "editor" },
    ],
  });
  await objects.create("applications", "Application", "payroll", {
    displayName: "Payroll",
    entityId: "urn:example:payroll",
    acsUrl: "https://payroll.example.com/acs",
    nameId: { format: "persistent", source: "id" },
    signing: { assertion: false, response: true },
  });
  await objects.create("applications", "Application", "crm", {
    displayName: "CRM",
    entityId: "https://crm.example.com",
    acsUrl: "https://crm.example.com/acs",
  });
  await objects.create("applicationassignments", "ApplicationAssignment", "admins-wiki", {
    principal: { kind: "Group", name: "admins" },
    application: "wiki",
  });
  await objects.create("applicationassignments", "ApplicationAssignment", "alice-payroll", {
    principal: { kind: "User", name: "alice" },
    application: "payroll",
  });
  await objects.create("applicationassignments", "ApplicationAssignment", "bob-crm", {
    principal: { kind: "User", name: "bob" },
    application: "crm",
  });
  const controller = await startControllerProcess({
    kubeconfig: await chartControllerKubeconfig(env),
    workDir: env.workDir,
    identity: "portal-test",
    namespace: NS,
    // An image makes the controller create the portal's ServiceAccount, Role and bindings;
    // the in-process portal below signs in as that ServiceAccount.
    args: [
      "--leader-elect=false",
      "--portal-image=identity-center-operator:test",
      ...(options.controllerArgs ?? []),
    ],
    env: motoControllerEnv(moto.managementCredentials, moto.endpoint),
  });
  await waitFor(
    "roles provisioned in both accounts",
    async () => {
      const accounts = await Promise.all([
        objects.get("accounts", "production"),
        objects.get("accounts", "staging"),
      ]);
      return accounts.every(
        (a) => (a.status?.roles as { state: string }[] | undefined)?.[0]?.state === "Provisioned",
      );
    },
    60_000,
  );
  // The portal runs with exactly the RBAC the controller gave its ServiceAccount (the chart's
  // read-only ClusterRole and a Role for Secrets): a forbidden call fails the tests.
  const portalKubeconfig = await env.kubeconfigFor(PORTAL_SERVICE_ACCOUNT);
  const portalKc = loadKubeConfig(portalKubeconfig);
  const portalCore = portalKc.makeApiClient(CoreV1Api);
  let secret: V1Secret | undefined;
  await waitFor("the portal's ServiceAccount to read the signing Secret", async () => {
    secret = await portalCore.readNamespacedSecret({
      name: "identitycenter-default-signing",
      namespace: NS,
    });
    return true;
  });
  // Each Application's key is made by the controller and named in the portal's Role as the
  // controller sees the Application: wait for both, so no test meets a key that is not ready.
  await waitFor(
    "the portal's ServiceAccount to read each Application's signing Secret",
    async () => {
      for (const name of ["wiki", "payroll", "crm"])
        await portalCore.readNamespacedSecret({
          name: applicationSigningSecretName(name),
          namespace: NS,
        });
      return true;
    },
  );
  const certificatePem = Buffer.from(secret?.data?.["tls.crt"] ?? "", "base64").toString();
  const keyPem = Buffer.from(secret?.data?.["tls.key"] ?? "", "base64").toString();
  const log = options.log ?? createLogger("silent");
  const stores = createStores(portalKc, log);
  const informers = portalInformers(stores);
  await startInformers(informers);
  // The session check's cache, as `idc portal` wires it: the store's reads and writes go
  // straight into it. Synced before the tests start, so they meet the portal as it runs.
  const sessionRecords = new CredentialSessions(
    portalKc,
    CREDENTIALS_NS,
    credentialOwners(stores),
    log,
  );
  const store = new CredentialStore(portalKc, CREDENTIALS_NS, credentialOwners(stores), {
    seen: (secret) => sessionRecords.observe(secret),
  });
  await startInformers([sessionRecords.informer]);
  const deps = {
    stores,
    instanceName: "default",
    credentials: store,
    sessionRecords,
    deviceApprovals: new SecretDocument(portalKc, {
      namespace: CREDENTIALS_NS,
      name: deviceApprovalsSecretName("default"),
      empty: emptyApprovals,
    }),
    usedAssertions: new SecretDocument(portalKc, {
      namespace: CREDENTIALS_NS,
      name: usedAssertionsSecretName("default"),
      empty: emptyUsedAssertions,
    }),
    sessionKey: randomBytes(32),
    signing: {
      privateKey: createPrivateKey(keyPem),
      certificatePem,
      certificateBase64: certificateBase64(certificatePem),
    },
    // Each Application's key, read by name with the portal's own RBAC.
    applicationKeys: new SecretApplicationKeys(secretByName(portalKc, NS)),
    stsEndpoint: undefined,
    region: "us-east-1",
    log,
    now: options.now,
    metrics: new PortalMetrics(),
    // The tests sign in from one address many times a minute; the throttling tests make
    // replicas with tight limits of their own.
    throttle: { perAddress: { max: 10_000 }, global: { max: 10_000 } },
    identitySource: new KubernetesIdentitySourceWriter(portalKc),
    readSecret: async (name: string, key: string) => {
      const read = await portalCore.readNamespacedSecret({ name, namespace: NS });
      return Buffer.from(read.data?.[key] ?? "", "base64").toString("utf8");
    },
  };
  const app = buildPortalApp(deps);
  const replicas: ReturnType<typeof buildPortalApp>[] = [];
  return {
    objects,
    store,
    stores,
    sessionRecords,
    /** The portal ServiceAccount's kubeconfig file (replicas with caches of their own). */
    portalKubeconfig,
    app,
    certificatePem,
    metrics: deps.metrics,
    /** Another in-process app on the same caches, with some deps changed (not a replica). */
    replica(overrides: Partial<PortalDeps> = {}) {
      const replica = buildPortalApp({ ...deps, ...overrides });
      replicas.push(replica);
      return replica;
    },
    async stop() {
      for (const r of replicas) await r.close();
      await app.close();
      for (const i of [...informers, sessionRecords.informer]) await i.stop();
      await controller.stop("SIGTERM");
    },
  };
}
