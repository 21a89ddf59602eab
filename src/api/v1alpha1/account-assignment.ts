import Type, { type Static } from "typebox";
import { AccountProvisioning } from "./permission-set.ts";
import {
  enumOf,
  objectName,
  Principal,
  readyColumns,
  principalColumns,
  rules,
  statusOf,
  stringMap,
  type KindDefinition,
} from "./schema.ts";

const LabelSelectorRequirement = Type.Object(
  {
    key: Type.String({ description: "Label key.", minLength: 1, maxLength: 317 }),
    operator: enumOf(
      ["In", "NotIn", "Exists", "DoesNotExist"] as const,
      "How the key relates to the values.",
    ),
    values: Type.Optional(
      Type.Array(Type.String({ description: "A label value.", maxLength: 63 }), {
        description: "Values for In and NotIn; empty for Exists and DoesNotExist.",
        "x-kubernetes-list-type": "set",
      }),
    ),
  },
  {
    description: "A label requirement.",
    ...rules(
      {
        rule: "!(self.operator in ['In', 'NotIn']) || (has(self.values) && size(self.values) > 0)",
        message: "operators In and NotIn need at least one value",
      },
      {
        rule: "!(self.operator in ['Exists', 'DoesNotExist']) || !has(self.values) || size(self.values) == 0",
        message: "operators Exists and DoesNotExist take no values",
      },
    ),
  },
);

export const AccountSelector = Type.Object(
  {
    matchLabels: Type.Optional(stringMap("Labels an Account must have, all of them.")),
    matchExpressions: Type.Optional(
      Type.Array(LabelSelectorRequirement, {
        description: "Requirements an Account's labels must meet, all of them.",
      }),
    ),
  },
  {
    description:
      "Selects Account objects by label; accounts labelled later are picked up automatically.",
    ...rules({
      rule: "(has(self.matchLabels) && size(self.matchLabels) > 0) || (has(self.matchExpressions) && size(self.matchExpressions) > 0)",
      message: "accountSelector must have matchLabels or matchExpressions",
    }),
  },
);

export const AccountAssignmentSpec = Type.Object(
  {
    principal: Principal,
    permissionSet: objectName("Name of the PermissionSet object to assign."),
    accounts: Type.Optional(
      Type.Array(
        Type.String({
          description: "An Account object name or a 12-digit AWS account id.",
          minLength: 1,
          maxLength: 253,
          pattern: "^([0-9]{12}|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$",
        }),
        {
          description: "Target accounts by Account object name or account id.",
          maxItems: 1000,
          "x-kubernetes-list-type": "set",
        },
      ),
    ),
    accountSelector: Type.Optional(AccountSelector),
  },
  {
    description: "Gives a user or group a permission set in one or more AWS accounts.",
    ...rules({
      rule: "(has(self.accounts) && size(self.accounts) > 0) || has(self.accountSelector)",
      message: "set at least one target: accounts or accountSelector",
    }),
  },
);

export const AccountAssignmentStatus = statusOf("Observed state of the assignment.", {
  accountCount: Type.Optional(
    Type.Integer({ description: "Number of accounts the assignment targets.", minimum: 0 }),
  ),
  accounts: Type.Optional(
    Type.Array(AccountProvisioning, {
      description:
        "The permission set's role in each targeted account. While accounts change, the list is rewritten at most once per 0.1 s per row (every 25 s at 250 accounts, and always within 30 s); a change of the Ready status or reason is written at once.",
    }),
  ),
});

export type AccountAssignmentSpec = Static<typeof AccountAssignmentSpec>;
export type AccountAssignmentStatus = Static<typeof AccountAssignmentStatus>;
export type AccountSelector = Static<typeof AccountSelector>;

export const accountAssignmentDefinition: KindDefinition = {
  kind: "AccountAssignment",
  plural: "accountassignments",
  singular: "accountassignment",
  shortNames: ["aa", "assignment"],
  description:
    "AccountAssignment gives a user or group a permission set in AWS accounts chosen by name, id or label.",
  spec: AccountAssignmentSpec,
  status: AccountAssignmentStatus,
  columns: [
    ...principalColumns,
    {
      name: "PermissionSet",
      type: "string",
      jsonPath: ".spec.permissionSet",
      description: "Permission set.",
    },
    {
      name: "Accounts",
      type: "integer",
      jsonPath: ".status.accountCount",
      description: "Targeted accounts.",
    },
    ...readyColumns,
  ],
};
