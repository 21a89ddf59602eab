import type { KubeConfig } from "@kubernetes/client-node";
import type { Group, User } from "../api/v1alpha1/index.ts";
import { CustomResourceClient } from "../adapters/k8s/custom-resources.ts";
import type { EventRecorder } from "../adapters/k8s/events.ts";
import { DirectoryIndex } from "../identity/directory-index.ts";
import type { Logger } from "../observability/logger.ts";
import type { OperatorMetrics } from "../observability/metrics.ts";
import type { Informer } from "../runtime/informer.ts";

/** What every controller of the operator shares: caches, clients, the index, the clock. */
export interface OperatorContext {
  kubeConfig: KubeConfig;
  log: Logger;
  metrics: OperatorMetrics;
  events: EventRecorder;
  now: () => Date;
  users: { informer: Informer<User>; client: CustomResourceClient<User> };
  groups: { informer: Informer<Group>; client: CustomResourceClient<Group> };
  directory: DirectoryIndex;
}

export function createIdentityStore(kubeConfig: KubeConfig, log: Logger) {
  const userClient = new CustomResourceClient<User>(kubeConfig, "User");
  const groupClient = new CustomResourceClient<Group>(kubeConfig, "Group");
  const users = { informer: userClient.informer(log), client: userClient };
  const groups = { informer: groupClient.informer(log), client: groupClient };
  const directory = new DirectoryIndex();
  // The index is updated before any controller's handler runs (handlers run in order).
  users.informer.onChange((c) => {
    directory.updateUser(c.old, c.type === "delete" ? undefined : c.object);
  });
  groups.informer.onChange((c) => {
    directory.updateGroup(c.old, c.type === "delete" ? undefined : c.object);
  });
  return { users, groups, directory };
}

/** Whether an update changed what a controller acts on: spec (generation), labels or deletion. */
export function meaningfulUpdate(
  old:
    | {
        metadata: {
          generation?: number;
          labels?: Record<string, string>;
          deletionTimestamp?: Date;
        };
      }
    | undefined,
  next: {
    metadata: { generation?: number; labels?: Record<string, string>; deletionTimestamp?: Date };
  },
): boolean {
  if (!old) return true;
  return (
    old.metadata.generation !== next.metadata.generation ||
    JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(next.metadata.labels ?? {}) ||
    String(old.metadata.deletionTimestamp) !== String(next.metadata.deletionTimestamp)
  );
}
