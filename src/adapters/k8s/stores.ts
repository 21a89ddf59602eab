import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type {
  Account,
  AccountAssignment,
  Application,
  ApplicationAssignment,
  Group,
  IdentityCenter,
  PermissionSet,
  User,
} from "../../api/v1alpha1/index.ts";
import { AccountIdIndex, AssignmentIndex } from "../../identity/assignment-index.ts";
import { DirectoryIndex } from "../../identity/directory-index.ts";
import type { Informer, WatchLike } from "../../runtime/informer.ts";
import { CustomResourceClient, type AnyResource, type KindName } from "./custom-resources.ts";

/** One kind's cache and client. The controllers and the portal both read through these. */
export interface Store<T extends AnyResource> {
  informer: Informer<T>;
  client: CustomResourceClient<T>;
}

/** One kind's store; `watch` replaces the API server watch (a test's lagging one). */
export function store<T extends AnyResource>(
  kubeConfig: KubeConfig,
  kind: KindName,
  log: Logger,
  watch?: WatchLike,
): Store<T> {
  const client = new CustomResourceClient<T>(kubeConfig, kind);
  const informer = client.informer(log, watch);
  // Our own writes reach the cache at once, not a watch round trip later (no stale rewrite).
  client.onWritten = (from, stored) => {
    informer.observeWrite(from, stored);
  };
  return { informer, client };
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
  const access = {
    assignments: new AssignmentIndex(),
    applicationAssignments: new AssignmentIndex(),
    accountIds: new AccountIdIndex(),
  };
  stores.assignments.informer.onChange((c) => {
    access.assignments.update(c.old, c.type === "delete" ? undefined : c.object);
  });
  stores.applicationAssignments.informer.onChange((c) => {
    access.applicationAssignments.update(c.old, c.type === "delete" ? undefined : c.object);
  });
  stores.accounts.informer.onChange((c) => {
    access.accountIds.update(c.old, c.type === "delete" ? undefined : c.object);
  });
  return { ...stores, directory, access };
}

export type Stores = ReturnType<typeof createStores>;

/** The instance: the IdentityCenter named `default`, or the only one. */
export function currentInstance(
  stores: Pick<Stores, "identityCenters">,
): IdentityCenter | undefined {
  const all = stores.identityCenters.informer.list();
  return all.find((i) => i.metadata.name === "default") ?? (all.length === 1 ? all[0] : undefined);
}

/**
 * Who a userName's credential record belongs to, from the caches: the one User with that
 * userName now (none while two Users clash on it).
 */
export function credentialOwners(
  stores: Pick<Stores, "directory" | "users">,
): (userName: string) => { name: string; uid: string } | undefined {
  return (userName) => {
    const name = stores.directory.validUserFor(userName);
    const uid = name ? stores.users.informer.get(name)?.metadata.uid : undefined;
    return name && uid ? { name, uid } : undefined;
  };
}

/** The caches the portal reads: everything that decides who may open what. */
export function portalInformers(stores: Omit<Stores, "directory" | "access">) {
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
export function operatorInformers(stores: Omit<Stores, "directory" | "access">) {
  return portalInformers(stores);
}
