import type { V1ObjectMeta } from "@kubernetes/client-node";
import type { AccountAssignmentSpec, AccountAssignmentStatus } from "./account-assignment.ts";
import type { AccountSpec, AccountStatus } from "./account.ts";
import type {
  ApplicationAssignmentSpec,
  ApplicationAssignmentStatus,
} from "./application-assignment.ts";
import type { ApplicationSpec, ApplicationStatus } from "./application.ts";
import type { GroupSpec, GroupStatus } from "./group.ts";
import type { IdentityCenterSpec, IdentityCenterStatus } from "./identity-center.ts";
import type { PermissionSetSpec, PermissionSetStatus } from "./permission-set.ts";
import type { UserSpec, UserStatus } from "./user.ts";

/** A custom object as the API server returns it, with metadata always present. */
export interface Resource<K extends string, Spec, Status> {
  apiVersion: string;
  kind: K;
  metadata: V1ObjectMeta & { name: string };
  spec: Spec;
  status?: Status;
}

export type IdentityCenter = Resource<"IdentityCenter", IdentityCenterSpec, IdentityCenterStatus>;
export type User = Resource<"User", UserSpec, UserStatus>;
export type Group = Resource<"Group", GroupSpec, GroupStatus>;
export type PermissionSet = Resource<"PermissionSet", PermissionSetSpec, PermissionSetStatus>;
export type Account = Resource<"Account", AccountSpec, AccountStatus>;
export type AccountAssignment = Resource<
  "AccountAssignment",
  AccountAssignmentSpec,
  AccountAssignmentStatus
>;
export type Application = Resource<"Application", ApplicationSpec, ApplicationStatus>;
export type ApplicationAssignment = Resource<
  "ApplicationAssignment",
  ApplicationAssignmentSpec,
  ApplicationAssignmentStatus
>;
