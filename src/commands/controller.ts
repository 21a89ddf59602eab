import { parseArgs } from "node:util";
import { loadKubeConfig } from "../adapters/k8s/kube-config.ts";
import { createLogger } from "../observability/logger.ts";
import { createOperator } from "../operator.ts";
import {
  bool,
  credentialsNamespace,
  credentialsNamespaceOption,
  logLevel,
  namespaceOption,
  parseDuration,
  parseHostPort,
  positiveInt,
  trustUpstreamCa,
} from "./flags.ts";

export const CONTROLLER_HELP = `Usage: idc controller [flags]

Runs the operator's controllers against the cluster of the current kubeconfig
(--kubeconfig, $KUBECONFIG, ~/.kube/config) or the in-cluster service account.

Flags:
  --kubeconfig PATH        kubeconfig file to use
  --namespace NAME         operator namespace: leader Lease and Secrets
                           (default $POD_NAMESPACE or identity-center-operator)
  --health-addr HOST:PORT  /metrics, /healthz, /readyz ("off" to disable; default 0.0.0.0:8080)
  --leader-elect BOOL      elect a leader on a Lease before reconciling (default true)
  --lease-name NAME        name of the leader Lease (default identity-center-operator)
  --lease-duration DURATION
                           how long a standby waits, from when it last saw the Lease change,
                           before it takes the Lease (default 15s)
  --renew-deadline DURATION
                           how long a leader goes on without renewing before it stops
                           reconciling and exits; below the lease duration (default 10s)
  --retry-period DURATION  how often to try to take or renew the Lease (default 2s)
  --workers N              concurrent reconciles of each controller (IdentityCenter, User,
                           Group, PermissionSet, AccountAssignment, Application,
                           ApplicationAssignment), each on its own (default 4)
  --account-workers N      the Account controller's workers: AWS accounts reconciled at once
                           (default 8)
  --aws-concurrency N      IAM calls in flight per account (default 4)
  --resync-period DURATION re-check every account for drift this often (default 10m)
  --aws-region REGION      region for STS and IAM clients (default $AWS_REGION or us-east-1)
  --aws-endpoint URL       IAM and STS endpoint override, e.g. a local emulator
                           (default $IDC_AWS_ENDPOINT)
  --aws-connect-timeout DURATION
                           longest wait for a connection to AWS (default 5s)
  --aws-request-timeout DURATION
                           longest wait for one AWS response; each call is retried a few
                           times, then the account reports Unreachable (default 15s)
  --log-level LEVEL        trace, debug, info, warn, error (default info)
  --identity NAME          leader election identity (default <hostname>_<pid>)
  --portal-workload BOOL   run each IdentityCenter's portal as a Deployment, Service, Ingress
                           (default true; false when the portal runs elsewhere)
  --portal-image IMAGE     portal image when an IdentityCenter names none (default $IDC_IMAGE;
                           the chart passes the controller's own image)
  --credentials-namespace NAME
                           namespace of the users' credential records, passed on to each portal
                           (default $IDC_CREDENTIALS_NAMESPACE or <namespace>-credentials)
  --upstream-ca-file PATH  PEM certificates also trusted when reading an upstream SAML IdP's
                           metadataUrl (a private CA); the system's CAs stay trusted, TLS is
                           never turned off (default $IDC_UPSTREAM_CA_FILE)
`;

export async function runController(argv: string[], out: (text: string) => void): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: "string" },
      namespace: namespaceOption(),
      "health-addr": { type: "string", default: "0.0.0.0:8080" },
      "leader-elect": { type: "string", default: "true" },
      "lease-name": { type: "string", default: "identity-center-operator" },
      "lease-duration": { type: "string", default: "15s" },
      "renew-deadline": { type: "string", default: "10s" },
      "retry-period": { type: "string", default: "2s" },
      workers: { type: "string", default: "4" },
      "log-level": { type: "string", default: "info" },
      identity: { type: "string" },
      "account-workers": { type: "string", default: "8" },
      "aws-concurrency": { type: "string", default: "4" },
      "resync-period": { type: "string", default: "10m" },
      "aws-region": { type: "string", default: process.env.AWS_REGION ?? "us-east-1" },
      "aws-endpoint": { type: "string", default: process.env.IDC_AWS_ENDPOINT },
      "aws-connect-timeout": { type: "string", default: "5s" },
      "aws-request-timeout": { type: "string", default: "15s" },
      "portal-workload": { type: "string", default: "true" },
      "portal-image": { type: "string", default: process.env.IDC_IMAGE },
      "credentials-namespace": credentialsNamespaceOption(),
      "upstream-ca-file": { type: "string", default: process.env.IDC_UPSTREAM_CA_FILE },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    out(CONTROLLER_HELP);
    return 0;
  }
  if (values["upstream-ca-file"]) await trustUpstreamCa(values["upstream-ca-file"]);
  const workers = positiveInt("--workers", values.workers);
  const log = createLogger(logLevel(values["log-level"]));
  const kubeConfig = loadKubeConfig(values.kubeconfig);

  let stopping = false;
  const manager = createOperator(
    kubeConfig,
    {
      namespace: values.namespace,
      workers,
      accountWorkers: positiveInt("--account-workers", values["account-workers"]),
      awsConcurrencyPerAccount: positiveInt("--aws-concurrency", values["aws-concurrency"]),
      resyncMs: parseDuration("--resync-period", values["resync-period"]),
      awsRegion: values["aws-region"],
      awsEndpoint: values["aws-endpoint"],
      awsConnectTimeoutMs: parseDuration("--aws-connect-timeout", values["aws-connect-timeout"]),
      awsRequestTimeoutMs: parseDuration("--aws-request-timeout", values["aws-request-timeout"]),
      leaderElect: bool("--leader-elect", values["leader-elect"]),
      leaseName: values["lease-name"],
      leaseDurationMs: parseDuration("--lease-duration", values["lease-duration"]),
      renewDeadlineMs: parseDuration("--renew-deadline", values["renew-deadline"]),
      retryPeriodMs: parseDuration("--retry-period", values["retry-period"]),
      healthAddress: parseHostPort("--health-addr", values["health-addr"]),
      ...(values.identity ? { identity: values.identity } : {}),
      portalWorkload: bool("--portal-workload", values["portal-workload"]),
      portalImage: values["portal-image"],
      credentialsNamespace: credentialsNamespace(values),
    },
    log,
    (reason) => {
      log.fatal({ reason }, "exiting");
      process.exit(1);
    },
  );
  const done = new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "shutting down");
      manager.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err: err instanceof Error ? err.message : String(err) }, "shutdown failed");
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", () => shutdown("SIGTERM"));
    process.once("SIGINT", () => shutdown("SIGINT"));
  });
  await manager.start();
  return done;
}
