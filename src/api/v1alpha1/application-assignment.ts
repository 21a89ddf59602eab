import Type, { type Static } from "typebox";
import {
  objectName,
  Principal,
  readyColumns,
  principalColumns,
  statusOf,
  type KindDefinition,
} from "./schema.ts";

export const ApplicationAssignmentSpec = Type.Object(
  {
    principal: Principal,
    application: objectName("Name of the Application object."),
  },
  { description: "Lets a user or group sign in to an application." },
);

export const ApplicationAssignmentStatus = statusOf("Observed state of the assignment.", {});

export type ApplicationAssignmentSpec = Static<typeof ApplicationAssignmentSpec>;
export type ApplicationAssignmentStatus = Static<typeof ApplicationAssignmentStatus>;

export const applicationAssignmentDefinition: KindDefinition = {
  kind: "ApplicationAssignment",
  plural: "applicationassignments",
  singular: "applicationassignment",
  shortNames: ["appassign"],
  description: "ApplicationAssignment lets a user or group sign in to a SAML application.",
  spec: ApplicationAssignmentSpec,
  status: ApplicationAssignmentStatus,
  columns: [
    ...principalColumns,
    {
      name: "Application",
      type: "string",
      jsonPath: ".spec.application",
      description: "Application.",
    },
    ...readyColumns,
  ],
};
