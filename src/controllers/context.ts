import type { KubeConfig } from "@kubernetes/client-node";
import type {
  Account,
  AccountAssignment,
  Application,
  ApplicationAssignment,
  Group,
  IdentityCenter,
  PermissionSet,
  User,
} from "../api/v1alpha1/index.ts";
import type { CredentialRecords } from "../adapters/k8s/credential-store.ts";
import type { EventRecorder } from "../adapters/k8s/events.ts";
import type { AccountClients } from "../adapters/aws/account-clients.ts";
import type { DirectoryIndex } from "../identity/directory-index.ts";
import type { Logger } from "../observability/logger.ts";
import type { OperatorMetrics } from "../observability/metrics.ts";
import type { PortalObjects } from "../adapters/k8s/portal-objects.ts";
import type { Store } from "../adapters/k8s/stores.ts";
import type { ApplicationSigningSecrets } from "../adapters/k8s/application-signing-secrets.ts";
import type { InstanceSigningSecrets } from "../adapters/k8s/instance-signing-secrets.ts";
import type { MetadataFetcher } from "../adapters/http/metadata-fetcher.ts";

export interface AwsSettings {
  /** One IAM and one STS client per access role, with timeouts, reused by every reconcile. */
  accounts: AccountClients;
  /** IAM calls in flight per account. */
  concurrencyPerAccount: number;
}

export interface PortalWorkloadSettings {
  objects: PortalObjects;
  /** The controller's own image, used when an IdentityCenter names none. */
  image: string | undefined;
}

/** What every controller of the operator shares: caches, clients, the index, the clock. */
export interface OperatorContext {
  kubeConfig: KubeConfig;
  namespace: string;
  /** Where users' credential records live (only they do). */
  credentialsNamespace: string;
  /** The cached credential records, for removing those of Users that are gone or renamed. */
  credentialRecords: CredentialRecords | undefined;
  log: Logger;
  metrics: OperatorMetrics;
  events: EventRecorder;
  now: () => Date;
  resyncMs: number;
  aws: AwsSettings;
  directory: DirectoryIndex;
  /** Each Application's own signing key, in a Secret of the operator namespace. */
  applicationSigningSecrets: ApplicationSigningSecrets;
  /** The instances' signing Secrets in the operator namespace, cached. */
  instanceSigningSecrets: InstanceSigningSecrets;
  /** Reads an upstream SAML IdP's metadata URL (https, size and time limited). */
  fetchMetadata: MetadataFetcher;
  /** Set when the controller runs each instance's portal workload (off in the local stack). */
  portal: PortalWorkloadSettings | undefined;
  identityCenters: Store<IdentityCenter>;
  users: Store<User>;
  groups: Store<Group>;
  permissionSets: Store<PermissionSet>;
  accounts: Store<Account>;
  assignments: Store<AccountAssignment>;
  applications: Store<Application>;
  applicationAssignments: Store<ApplicationAssignment>;
}
