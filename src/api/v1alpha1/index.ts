// The v1alpha1 API: one definition per kind, in the order CRDs are generated and documented.
import { accountAssignmentDefinition } from "./account-assignment.ts";
import { accountDefinition } from "./account.ts";
import { applicationAssignmentDefinition } from "./application-assignment.ts";
import { applicationDefinition } from "./application.ts";
import { groupDefinition } from "./group.ts";
import { identityCenterDefinition } from "./identity-center.ts";
import { permissionSetDefinition } from "./permission-set.ts";
import type { KindDefinition } from "./schema.ts";
import { userDefinition } from "./user.ts";

export * from "./schema.ts";
export * from "./resource.ts";
export * from "./account-assignment.ts";
export * from "./account.ts";
export * from "./application-assignment.ts";
export * from "./application.ts";
export * from "./group.ts";
export * from "./identity-center.ts";
export * from "./permission-set.ts";
export * from "./user.ts";

export const kindDefinitions: readonly KindDefinition[] = [
  identityCenterDefinition,
  userDefinition,
  groupDefinition,
  permissionSetDefinition,
  accountDefinition,
  accountAssignmentDefinition,
  applicationDefinition,
  applicationAssignmentDefinition,
];
