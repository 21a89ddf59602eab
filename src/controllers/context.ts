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
import {
  CustomResourceClient,
  type AnyResource,
  type KindName,
} from "../adapters/k8s/custom-resources.ts";
import type { EventRecorder } from "../adapters/k8s/events.ts";
import type { AccountCredentials } from "../adapters/aws/account-credentials.ts";
import { DirectoryIndex } from "../identity/directory-index.ts";
import type { Logger } from "../observability/logger.ts";
import type { OperatorMetrics } from "../observability/metrics.ts";
import type { Informer } from "../runtime/informer.ts";
import type { PortalObjects } from "./identitycenter/portal-objects.ts";

export interface Store<T extends AnyResource> {
  informer: Informer<T>;
  client: CustomResourceClient<T>;
}

export interface AwsSettings {
  region: string;
  /** Endpoint override for IAM and STS (tests and the local stack point it at moto). */
  endpoint: string | undefined;
  credentials: AccountCredentials;
  /** IAM calls in flight per account. */
  concurrencyPerAccount: number;
}

export interface PortalWorkloadSettings {
  objects: PortalObjects;
  /** The controller's own image, used when an IdentityCenter names none. */
  image: string | undefined;
  /** The ClusterRole (from the chart) that lets a portal read our custom resources. */
  clusterRole: string;
}

/** What every controller of the operator shares: caches, clients, the index, the clock. */
export interface OperatorContext {
  kubeConfig: KubeConfig;
  namespace: string;
  log: Logger;
  metrics: OperatorMetrics;
  events: EventRecorder;
  now: () => Date;
  resyncMs: number;
  aws: AwsSettings;
  directory: DirectoryIndex;
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

function store<T extends AnyResource>(
  kubeConfig: KubeConfig,
  kind: KindName,
  log: Logger,
): Store<T> {
  const client = new CustomResourceClient<T>(kubeConfig, kind);
  return { informer: client.informer(log), client };
}

export function createStores(kubeConfig: KubeConfig, log: Logger) {
  const stores = {
    identityCenters: store<IdentityCenter>(kubeConfig, "IdentityCenter", log),
    users: store<User>(kubeConfig, "User", log),
    groups: store<Group>(kubeConfig, "Group", log),
    permissionSets: store<PermissionSet>(kubeConfig, "PermissionSet", log),
    accounts: store<Account>(kubeConfig, "Account", log),
    assignments: store<AccountAssignment>(kubeConfig, "AccountAssignment", log),
    applications: store<Application>(kubeConfig, "Application", log),
    applicationAssignments: store<ApplicationAssignment>(kubeConfig, "ApplicationAssignment", log),
  };
  const directory = new DirectoryIndex();
  // The index is updated before any controller's handler runs (handlers run in order).
  stores.users.informer.onChange((c) => {
    directory.updateUser(c.old, c.type === "delete" ? undefined : c.object);
  });
  stores.groups.informer.onChange((c) => {
    directory.updateGroup(c.old, c.type === "delete" ? undefined : c.object);
  });
  return { ...stores, directory };
}

type Meta = {
  metadata: { generation?: number; labels?: Record<string, string>; deletionTimestamp?: Date };
};

/** Whether an update changed what a controller acts on: spec (generation), labels or deletion. */
export function meaningfulUpdate(old: Meta | undefined, next: Meta): boolean {
  if (!old) return true;
  return (
    old.metadata.generation !== next.metadata.generation ||
    JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(next.metadata.labels ?? {}) ||
    String(old.metadata.deletionTimestamp) !== String(next.metadata.deletionTimestamp)
  );
}

/** The instance: the IdentityCenter named `default`, or the only one. */
export function currentInstance(
  ctx: Pick<OperatorContext, "identityCenters">,
): IdentityCenter | undefined {
  const all = ctx.identityCenters.informer.list();
  return all.find((i) => i.metadata.name === "default") ?? (all.length === 1 ? all[0] : undefined);
}

type Stores = ReturnType<typeof createStores>;

/** The caches the portal reads: everything that decides who may open what. */
export function portalInformers(stores: Stores) {
  return [
    stores.identityCenters,
    stores.users,
    stores.groups,
    stores.permissionSets,
    stores.accounts,
    stores.assignments,
    stores.applications,
    stores.applicationAssignments,
  ].map((s) => s.informer);
}

/** Every cache the controllers use: the same ones the portal reads. */
export function operatorInformers(stores: Stores) {
  return portalInformers(stores);
}
