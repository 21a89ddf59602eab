import Type, { type Static } from "typebox";
import { enumOf, readyColumns, rules, statusOf, type KindDefinition } from "./schema.ts";

export const ACCOUNT_ID_PATTERN = "^[0-9]{12}$";
export const DEFAULT_ACCESS_ROLE_NAME = "OrganizationAccountAccessRole";

export const AccountSpec = Type.Object(
  {
    accountId: Type.String({
      description: "The 12-digit AWS account id. Cannot be changed once set.",
      pattern: ACCOUNT_ID_PATTERN,
      ...rules({ rule: "self == oldSelf", message: "accountId is immutable" }),
    }),
    displayName: Type.Optional(
      Type.String({ description: "Name shown in the access portal.", maxLength: 256 }),
    ),
    email: Type.Optional(
      Type.String({
        description: "The account's root email, for reference.",
        maxLength: 254,
        pattern: "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$",
      }),
    ),
    accessRoleArn: Type.Optional(
      Type.String({
        description:
          "Role in this account that the controller assumes to manage IAM. Defaults to arn:<partition>:iam::<accountId>:role/OrganizationAccountAccessRole.",
        maxLength: 2048,
        pattern: "^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[!-~]+$",
      }),
    ),
    externalId: Type.Optional(
      Type.String({
        description: "External id to pass when assuming the access role.",
        minLength: 2,
        maxLength: 1224,
        pattern: "^[A-Za-z0-9+=,.@:/_-]+$",
      }),
    ),
    deletionPolicy: enumOf(
      ["Delete", "Retain"] as const,
      "What happens to the roles and SAML provider in AWS when this object is deleted.",
      { default: "Delete" },
    ),
  },
  {
    description:
      "An AWS account the operator manages roles in. Labels act as organisational units.",
    ...rules({
      rule: "!has(self.accessRoleArn) || self.accessRoleArn.split(':')[4] == self.accountId",
      message: "accessRoleArn must be a role in the account given by accountId",
      fieldPath: ".accessRoleArn",
    }),
  },
);

export const AccountStatus = statusOf("Observed state of the account.", {
  samlProviderArn: Type.Optional(
    Type.String({ description: "ARN of the IAM SAML provider the operator keeps here." }),
  ),
  managedRoles: Type.Optional(
    Type.Integer({ description: "Number of IAM roles the operator manages here.", minimum: 0 }),
  ),
  roles: Type.Optional(
    Type.Array(
      Type.Object(
        {
          permissionSet: Type.String({ description: "PermissionSet object name." }),
          roleName: Type.Optional(Type.String({ description: "IAM role name." })),
          roleArn: Type.Optional(Type.String({ description: "IAM role ARN." })),
          state: enumOf(["Provisioned", "Pending", "Failed"] as const, "Provisioning state."),
          reason: Type.Optional(
            Type.String({
              description:
                "Why the state is not Provisioned, as a CamelCase word (InvalidPolicy, PolicyNotFound, QuotaExceeded, IamRefused, PermissionSetNotFound, AccountNotFound, ...).",
            }),
          ),
          message: Type.Optional(Type.String({ description: "Why the state is not Provisioned." })),
          assignments: Type.Optional(
            Type.Array(Type.String(), {
              description:
                "The AccountAssignments that grant this role. An assignment that later becomes invalid keeps the role it granted, unchanged, until it is fixed or deleted.",
            }),
          ),
          permissionSetGeneration: Type.Optional(
            Type.Integer({
              description:
                "For reason IamRefused: the PermissionSet generation IAM refused; it is not sent again until the PermissionSet changes.",
              minimum: 0,
            }),
          ),
        },
        { description: "The role of one permission set in this account." },
      ),
      { description: "Every permission set assigned to this account and its role, sorted." },
    ),
  ),
  removals: Type.Optional(
    Type.Array(
      Type.Object(
        {
          roleName: Type.String({ description: "IAM role name." }),
          permissionSet: Type.Optional(
            Type.String({ description: "PermissionSet object name the role was made for." }),
          ),
          state: enumOf(["Pending", "Failed"] as const, "Removal state."),
          reason: Type.String({ description: "Why the role is not removed yet." }),
          message: Type.String({ description: "Details." }),
        },
        { description: "An owned role that is no longer wanted and could not be removed yet." },
      ),
      {
        description:
          "Owned roles whose removal is pending or failed; a role leaves this list when it is gone.",
      },
    ),
  ),
  lastSyncTime: Type.Optional(
    Type.String({
      description:
        "When the controller last changed something in the account or in this status; a re-check that finds nothing to do does not move it.",
      format: "date-time",
    }),
  ),
});

export type AccountSpec = Static<typeof AccountSpec>;
export type AccountStatus = Static<typeof AccountStatus>;

export const accountDefinition: KindDefinition = {
  kind: "Account",
  plural: "accounts",
  singular: "account",
  shortNames: ["awsaccount", "acct"],
  description: "Account is an AWS account the operator provisions permission set roles in.",
  spec: AccountSpec,
  status: AccountStatus,
  columns: [
    { name: "AccountId", type: "string", jsonPath: ".spec.accountId", description: "Account id." },
    {
      name: "DisplayName",
      type: "string",
      jsonPath: ".spec.displayName",
      description: "Display name.",
    },
    {
      name: "Roles",
      type: "integer",
      jsonPath: ".status.managedRoles",
      description: "Managed roles.",
    },
    ...readyColumns,
  ],
};
