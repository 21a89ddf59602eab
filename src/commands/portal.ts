import { createPrivateKey } from "node:crypto";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { KubernetesIdentitySourceWriter } from "../adapters/k8s/identity-source-writer.ts";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { CredentialStore } from "../adapters/k8s/credential-store.ts";
import { CredentialSessions } from "../adapters/k8s/credential-sessions.ts";
import { SecretDocument } from "../adapters/k8s/secret-document.ts";
import { emptyApprovals, deviceApprovalsSecretName } from "../portal/sso/device-approvals.ts";
import { emptyUsedAssertions, usedAssertionsSecretName } from "../portal/upstream-saml.ts";
import { loadKubeConfig } from "../adapters/k8s/kube-config.ts";
import { createStores, credentialOwners, portalInformers } from "../adapters/k8s/stores.ts";
import { startInformers } from "../runtime/informer.ts";
import { sessionSecretName, signingSecretName } from "../plan/naming.ts";
import { createLogger } from "../observability/logger.ts";
import { PortalMetrics } from "../observability/metrics.ts";
import { startHealthServer } from "../runtime/health-server.ts";
import { buildPortalApp } from "../portal/app.ts";
import { SecretApplicationKeys } from "../portal/application-keys.ts";
import { secretByName } from "../adapters/k8s/application-signing-secrets.ts";
import { certificateBase64 } from "../saml/signing-identity.ts";
import { sessionKeyId, type SessionKeyRing } from "../portal/session-cookie.ts";
import {
  credentialsNamespace,
  credentialsNamespaceOption,
  logLevel,
  namespaceOption,
  nonNegativeInt,
  parseDuration,
  parseHostPort,
  positiveInt,
  trustUpstreamCa,
} from "./flags.ts";
import { hashConcurrencyFor } from "../plan/portal-sizing.ts";
import { DEFAULT_PASSWORD_HASHING } from "../api/v1alpha1/identity-center.ts";
import { apiStatusCode } from "../runtime/api-errors.ts";
import { DEFAULT_THROTTLE } from "../portal/throttle.ts";
import { ScimTokenStore, cachedScimTokens } from "../adapters/k8s/scim-tokens.ts";

export const PORTAL_HELP = `Usage: idc portal [flags]

Serves the access portal and SAML identity provider of one IdentityCenter, and its SCIM 2.0
endpoint (/scim/v2) when spec.identitySource.scim.enabled. Reads the custom resources, writes
only the Users and Groups SCIM owns, reads its signing, session and SCIM token Secrets (by
name), and the users' credential records; needs no AWS credentials.

Flags:
  --kubeconfig PATH      kubeconfig file to use (default: in-cluster or $KUBECONFIG)
  --namespace NAME       operator namespace with the signing and session Secrets (read by name)
  --credentials-namespace NAME
                         namespace of the users' credential records
                         (default $IDC_CREDENTIALS_NAMESPACE or <namespace>-credentials)
  --instance NAME        the IdentityCenter to serve (default "default")
  --listen HOST:PORT     where to listen (default 0.0.0.0:8080)
  --metrics-addr HOST:PORT
                         /metrics, /healthz and /readyz for Prometheus and probes, apart from
                         the user-facing port ("off" to disable; default 0.0.0.0:9090)
  --sts-endpoint URL     STS endpoint for CLI credentials (default: the IdentityCenter's, or AWS)
  --sts-connect-timeout DURATION
                         longest wait for a connection to STS (default 5s)
  --sts-request-timeout DURATION
                         longest wait for STS to answer; one retry, then the user gets an
                         error page (default 15s)
  --trusted-proxy-hops N proxies in front of the portal that append to X-Forwarded-For; the
                         client address is the entry N hops back (default 1: the ingress;
                         0 when clients connect directly)
  --hash-concurrency N   password checks run at once (default "auto": as many as the
                         container's memory limit holds next to the portal, see
                         IdentityCenter spec.portal.passwordHashConcurrency)
  --hash-queue N         sign-ins that may wait for a check; beyond them 503 (default 32)
  --throttle-per-address N
                         credential checks a minute from one client address (default 20)
  --throttle-global N    credential checks a minute from all addresses together, per replica
                         (default 6000; the hash slots and queue above bound the CPU)
  --upstream-ca-file PATH
                         PEM certificates also trusted for the upstream identity provider (a
                         private CA); the system's CAs stay trusted, TLS is never turned off
                         (default $IDC_UPSTREAM_CA_FILE)
  --log-level LEVEL      trace, debug, info, warn, error (default info)
`;

/** The container's memory limit (cgroup v2, then v1), if it has one. */
async function memoryLimitBytes(): Promise<number | undefined> {
  for (const file of ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]) {
    try {
      const n = Number((await readFile(file, "utf8")).trim());
      // "max", or v1's "no limit" (a number near 2^63), both mean unbounded.
      if (Number.isFinite(n) && n > 0 && n < 2 ** 50) return n;
      return undefined;
    } catch {
      // not this cgroup version
    }
  }
  return undefined;
}

/**
 * Reads a Secret's key, waiting for the controller to create it (the portal may only `get`
 * Secrets of the operator namespace by name; it creates none there).
 */
async function secretValue(
  kubeConfig: KubeConfig,
  ref: { namespace: string; name: string; key: string },
): Promise<string> {
  const { namespace, name, key } = ref;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  for (let attempt = 0; attempt < 60; attempt++) {
    try {
      const secret = await core.readNamespacedSecret({ name, namespace });
      const value = secret.data?.[key];
      if (value) return Buffer.from(value, "base64").toString("utf8");
    } catch (err) {
      if (apiStatusCode(err) !== 404) throw err;
    }
    await new Promise((r) => setTimeout(r, 1000)); // the controller has not created it yet
  }
  throw new Error(`Secret ${namespace}/${name} has no ${key}`);
}

/**
 * The session keys in the session Secret: `key` seals, `previous` (if any) still opens, so a
 * rotation (move `key` to `previous`, write a new `key`; drop `previous` once the longest
 * session has run out) signs nobody out. Re-read every minute.
 */
function sessionKeyRing(
  kubeConfig: KubeConfig,
  ref: { namespace: string; name: string },
  first: string,
  log: { warn: (obj: object, msg: string) => void },
) {
  const toKey = (base64: string) => {
    const key = Buffer.from(base64, "base64");
    return { id: sessionKeyId(key), key };
  };
  let ring: SessionKeyRing = [toKey(first)];
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const timer = setInterval(() => {
    core.readNamespacedSecret(ref).then(
      (secret) => {
        const decode = (k: string) =>
          secret.data?.[k] ? Buffer.from(secret.data[k], "base64").toString("utf8") : undefined;
        const current = decode("key");
        const previous = decode("previous");
        if (current) ring = [toKey(current), ...(previous ? [toKey(previous)] : [])];
      },
      (err: unknown) => {
        log.warn({ err: String(err) }, "re-reading the session keys failed; keeping the last ones");
      },
    );
  }, 60_000);
  timer.unref();
  return { keys: () => ring, stop: () => clearInterval(timer) };
}

/**
 * Reads a key of a Secret of the operator namespace by name (the portal's Role lets it `get`
 * exactly the Secrets it names), kept for a minute so each sign-in does not cost a read.
 */
function secretReader(kubeConfig: KubeConfig, namespace: string) {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const cache = new Map<string, { at: number; value: string }>();
  return async (name: string, key: string): Promise<string> => {
    const id = `${name}/${key}`;
    const hit = cache.get(id);
    if (hit && Date.now() - hit.at < 60_000) return hit.value;
    const secret = await core.readNamespacedSecret({ name, namespace });
    const data = secret.data?.[key];
    if (!data) throw new Error(`Secret ${namespace}/${name} has no key ${key}`);
    const value = Buffer.from(data, "base64").toString("utf8");
    cache.set(id, { at: Date.now(), value });
    return value;
  };
}

export async function runPortal(argv: string[], out: (text: string) => void): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: "string" },
      namespace: namespaceOption(),
      "credentials-namespace": credentialsNamespaceOption(),
      instance: { type: "string", default: "default" },
      listen: { type: "string", default: "0.0.0.0:8080" },
      "metrics-addr": { type: "string", default: "0.0.0.0:9090" },
      "sts-endpoint": { type: "string", default: process.env.IDC_STS_ENDPOINT },
      "sts-connect-timeout": { type: "string", default: "5s" },
      "sts-request-timeout": { type: "string", default: "15s" },
      "trusted-proxy-hops": { type: "string", default: "1" },
      "log-level": { type: "string", default: "info" },
      "hash-concurrency": { type: "string", default: "auto" },
      "hash-queue": { type: "string", default: "32" },
      "throttle-per-address": {
        type: "string",
        default: String(DEFAULT_THROTTLE.perAddress.max),
      },
      "throttle-global": { type: "string", default: String(DEFAULT_THROTTLE.global.max) },
      "upstream-ca-file": { type: "string", default: process.env.IDC_UPSTREAM_CA_FILE },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    out(PORTAL_HELP);
    return 0;
  }
  const listen = parseHostPort("--listen", values.listen);
  if (!listen) throw new Error("--listen must be HOST:PORT");
  const metricsAddress = parseHostPort("--metrics-addr", values["metrics-addr"]);
  const trustedProxyHops = nonNegativeInt("--trusted-proxy-hops", values["trusted-proxy-hops"]);
  const log = createLogger(logLevel(values["log-level"]), "idc-portal");
  if (values["upstream-ca-file"]) await trustUpstreamCa(values["upstream-ca-file"]);
  const kubeConfig = loadKubeConfig(values.kubeconfig);
  const stores = createStores(kubeConfig, log);
  const informers = portalInformers(stores);
  await startInformers(informers);
  const hashQueue = positiveInt("--hash-queue", values["hash-queue"]);
  const hashConcurrency =
    values["hash-concurrency"] === "auto"
      ? hashConcurrencyFor(
          await memoryLimitBytes(),
          (
            stores.identityCenters.informer.get(values.instance)?.spec.signIn.passwordHashing ??
            DEFAULT_PASSWORD_HASHING
          ).memoryKiB,
          availableParallelism(),
        )
      : positiveInt("--hash-concurrency", values["hash-concurrency"]);
  log.info({ hashConcurrency, hashQueue }, "password checks bounded");
  // The session check's cache of every credential record: not waited for, since until it has
  // listed them all every check reads the record, as it always did (docs/adr/0021).
  const sessionRecords = new CredentialSessions(
    kubeConfig,
    credentialsNamespace(values),
    credentialOwners(stores),
    log,
  );
  sessionRecords.informer.start();
  const signingName = signingSecretName(values.instance);
  const [keyPem, certificatePem, sessionKey] = await Promise.all([
    secretValue(kubeConfig, { namespace: values.namespace, name: signingName, key: "tls.key" }),
    secretValue(kubeConfig, { namespace: values.namespace, name: signingName, key: "tls.crt" }),
    secretValue(kubeConfig, {
      namespace: values.namespace,
      name: sessionSecretName(values.instance),
      key: "key",
    }),
  ]);
  const metrics = new PortalMetrics();
  const keyRing = sessionKeyRing(
    kubeConfig,
    { namespace: values.namespace, name: sessionSecretName(values.instance) },
    sessionKey,
    log,
  );
  const app = buildPortalApp({
    metrics,
    stores,
    instanceName: values.instance,
    credentials: new CredentialStore(
      kubeConfig,
      credentialsNamespace(values),
      credentialOwners(stores),
      { seen: (secret) => sessionRecords.observe(secret) },
    ),
    sessionRecords,
    sessionKeys: keyRing.keys,
    // Pending CLI sign-ins are sign-in state the portal writes: they live with the credential
    // records, where the portal may write, not in the operator namespace (read by name only).
    deviceApprovals: new SecretDocument(kubeConfig, {
      namespace: credentialsNamespace(values),
      name: deviceApprovalsSecretName(values.instance),
      empty: emptyApprovals,
    }),
    // Beside the credential records: the one namespace where the portal may write Secrets.
    usedAssertions: new SecretDocument(kubeConfig, {
      namespace: credentialsNamespace(values),
      name: usedAssertionsSecretName(values.instance),
      empty: emptyUsedAssertions,
    }),
    signing: {
      privateKey: createPrivateKey(keyPem),
      certificatePem,
      certificateBase64: certificateBase64(certificatePem),
    },
    applicationKeys: new SecretApplicationKeys(secretByName(kubeConfig, values.namespace)),
    stsEndpoint: values["sts-endpoint"],
    stsTimeouts: {
      connectTimeoutMs: parseDuration("--sts-connect-timeout", values["sts-connect-timeout"]),
      requestTimeoutMs: parseDuration("--sts-request-timeout", values["sts-request-timeout"]),
    },
    trustedProxyHops,
    region: process.env.AWS_REGION ?? "us-east-1",
    hashing: { concurrency: hashConcurrency, queue: hashQueue },
    throttle: {
      perAddress: {
        max: positiveInt("--throttle-per-address", values["throttle-per-address"]),
        timeWindow: 60_000,
      },
      global: {
        max: positiveInt("--throttle-global", values["throttle-global"]),
        timeWindow: 60_000,
      },
    },
    identitySource: new KubernetesIdentitySourceWriter(kubeConfig),
    readSecret: secretReader(kubeConfig, values.namespace),
    log,
    // Served only while the IdentityCenter has spec.identitySource.scim.enabled.
    scim: {
      users: stores.users.client,
      groups: stores.groups.client,
      tokens: cachedScimTokens(new ScimTokenStore(kubeConfig, values.namespace, values.instance)),
    },
  });
  await app.listen({ host: listen.host, port: listen.port });
  const metricsServer = metricsAddress
    ? await startHealthServer({
        ...metricsAddress,
        registry: metrics.registry,
        isReady: () => stores.identityCenters.informer.get(values.instance) !== undefined,
      })
    : undefined;
  return new Promise<number>((resolve) => {
    const stop = () => {
      metricsServer?.close();
      keyRing.stop();
      void app.close().then(async () => {
        await Promise.all([...informers, sessionRecords.informer].map((i) => i.stop()));
        resolve(0);
      });
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}
