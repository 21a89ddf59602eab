import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import { AccountClients } from "./adapters/aws/account-clients.ts";
import { ApplicationSigningSecrets } from "./adapters/k8s/application-signing-secrets.ts";
import { CredentialRecords } from "./adapters/k8s/credential-store.ts";
import { KubeEventRecorder } from "./adapters/k8s/events.ts";
import { createAccountController } from "./controllers/account/controller.ts";
import { createAccountAssignmentController } from "./controllers/accountassignment/controller.ts";
import { createApplicationController } from "./controllers/application/controller.ts";
import { createApplicationAssignmentController } from "./controllers/applicationassignment/controller.ts";
import { createStores, operatorInformers } from "./adapters/k8s/stores.ts";
import type { OperatorContext } from "./controllers/context.ts";
import { createCredentialsController } from "./controllers/credentials/controller.ts";
import { httpsMetadataFetcher } from "./adapters/http/metadata-fetcher.ts";
import { createGroupController } from "./controllers/group/controller.ts";
import { createIdentityCenterController } from "./controllers/identitycenter/controller.ts";
import { PortalObjects } from "./adapters/k8s/portal-objects.ts";
import { InstanceSigningSecrets } from "./adapters/k8s/instance-signing-secrets.ts";
import { createPermissionSetController } from "./controllers/permissionset/controller.ts";
import { createUserController } from "./controllers/user/controller.ts";
import type { Logger } from "./observability/logger.ts";
import { OperatorMetrics } from "./observability/metrics.ts";
import type { Controller } from "./runtime/controller.ts";
import { Manager } from "./runtime/manager.ts";

export interface ControllerConfig {
  namespace: string;
  workers: number;
  /** Accounts reconciled at once; each has its own bound on IAM calls in flight. */
  accountWorkers: number;
  awsConcurrencyPerAccount: number;
  resyncMs: number;
  leaderElect: boolean;
  leaseName: string;
  /** Leader election timing (client-go's LeaseDuration, RenewDeadline, RetryPeriod). */
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  healthAddress: { host: string; port: number } | undefined;
  identity?: string;
  awsRegion: string;
  awsEndpoint: string | undefined;
  /** Connect and whole-request timeouts of every IAM and STS call. */
  awsConnectTimeoutMs: number;
  awsRequestTimeoutMs: number;
  /** Run each IdentityCenter's portal as a Deployment (off when the portal runs elsewhere). */
  portalWorkload: boolean;
  portalImage: string | undefined;
  /** Where users' credential records live. */
  credentialsNamespace: string;
}

/**
 * One controller per kind. Each runs `--workers` reconciles at once, except the Account
 * controller: an account's reconcile is a batch of IAM calls, so it has `--account-workers`.
 */
export function createControllers(
  ctx: OperatorContext,
  config: Pick<ControllerConfig, "workers" | "accountWorkers">,
): Controller[] {
  return [
    createIdentityCenterController(ctx, config.workers),
    createUserController(ctx, config.workers),
    createCredentialsController(ctx, config.workers),
    createGroupController(ctx, config.workers),
    createAccountController(ctx, config.accountWorkers),
    createPermissionSetController(ctx, config.workers),
    createAccountAssignmentController(ctx, config.workers),
    createApplicationController(ctx, config.workers),
    createApplicationAssignmentController(ctx, config.workers),
  ];
}

/** The leader election and event-reporting identity of this process. */
const identityOf = (config: ControllerConfig) =>
  config.identity ?? `${hostname()}_${String(process.pid)}`;

/** What every controller is given: caches, clients, settings. Nothing is started here. */
export function createOperatorContext(
  kubeConfig: KubeConfig,
  config: ControllerConfig,
  log: Logger,
  metrics: OperatorMetrics,
): OperatorContext {
  const identity = identityOf(config);
  const stores = createStores(kubeConfig, log);
  const credentialRecords = new CredentialRecords(kubeConfig, config.credentialsNamespace, log);
  return {
    kubeConfig,
    namespace: config.namespace,
    credentialsNamespace: config.credentialsNamespace,
    credentialRecords,
    log,
    metrics,
    now: () => new Date(),
    resyncMs: config.resyncMs,
    events: new KubeEventRecorder(kubeConfig, {
      controller: "identitycenter.dev/controller",
      instance: identity,
      log,
    }),
    aws: {
      accounts: new AccountClients({
        region: config.awsRegion,
        endpoint: config.awsEndpoint,
        connectTimeoutMs: config.awsConnectTimeoutMs,
        requestTimeoutMs: config.awsRequestTimeoutMs,
        concurrencyPerAccount: config.awsConcurrencyPerAccount,
        metrics,
      }),
      concurrencyPerAccount: config.awsConcurrencyPerAccount,
    },
    applicationSigningSecrets: new ApplicationSigningSecrets(kubeConfig, config.namespace, log),
    instanceSigningSecrets: new InstanceSigningSecrets(kubeConfig, config.namespace, log),
    fetchMetadata: httpsMetadataFetcher(),
    portal: config.portalWorkload
      ? {
          objects: new PortalObjects(kubeConfig, config.namespace, log),
          image: config.portalImage,
        }
      : undefined,
    ...stores,
  };
}

/** Wires the operator's caches and controllers into a manager. */
export function createOperator(
  kubeConfig: KubeConfig,
  config: ControllerConfig,
  log: Logger,
  onFatal: (reason: string) => void,
): Manager {
  const metrics = new OperatorMetrics();
  const identity = identityOf(config);
  const ctx = createOperatorContext(kubeConfig, config, log, metrics);
  const controllers = createControllers(ctx, config);
  return new Manager({
    kubeConfig,
    log,
    metrics,
    informers: [
      ...operatorInformers(ctx),
      ctx.applicationSigningSecrets.informer,
      ctx.instanceSigningSecrets.informer,
      ...(ctx.credentialRecords ? [ctx.credentialRecords.informer] : []),
      ...(ctx.portal?.objects.caches() ?? []),
    ],
    controllers,
    ...(config.healthAddress ? { healthAddress: config.healthAddress } : {}),
    ...(config.leaderElect
      ? {
          leaderElection: {
            namespace: config.namespace,
            name: config.leaseName,
            identity,
            leaseDurationMs: config.leaseDurationMs,
            renewDeadlineMs: config.renewDeadlineMs,
            retryPeriodMs: config.retryPeriodMs,
          },
        }
      : {}),
    onFatal,
  });
}
