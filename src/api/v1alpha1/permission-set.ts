import Type, { type Static } from "typebox";
import {
  enumOf,
  isoDuration,
  readyColumns,
  rules,
  statusOf,
  stringMap,
  type KindDefinition,
} from "./schema.ts";

const IAM_NAME = "^[A-Za-z0-9_+=,.@-]+$";
const IAM_PATH = "^/([!-~]*/)?$";
export const PERMISSION_SET_NAME_PATTERN = "^[A-Za-z0-9_+=,.@-]{1,32}$";
export const MAX_POLICIES = 20;
export const INLINE_POLICY_MAX_BYTES = 32768;
export const INLINE_POLICY_MAX_CHARS = 10240;

const CustomerManagedPolicyRef = Type.Object(
  {
    name: Type.String({
      description: "Policy name; the policy must exist in every account the set is assigned to.",
      minLength: 1,
      maxLength: 128,
      pattern: IAM_NAME,
    }),
    path: Type.String({
      description: "Policy path, starting and ending with '/'. Defaults to '/'.",
      default: "/",
      minLength: 1,
      maxLength: 512,
      pattern: IAM_PATH,
    }),
  },
  { description: "A customer managed policy, by name and path, resolved in each account." },
);

const ManagedPolicyArn = Type.String({
  description: "An AWS managed policy ARN, for example arn:aws:iam::aws:policy/ReadOnlyAccess.",
  maxLength: 2048,
  pattern: "^arn:aws(-[a-z]+)*:iam::aws:policy/[!-~]+$",
});

// Only Effect and Sid are declared: Action, Resource, Principal and Condition can each be a
// string or a list, which a structural schema cannot type, so they are kept as written and
// checked by IAM (a malformed policy becomes a terminal condition on the PermissionSet).
const PolicyStatement = Type.Unsafe<{
  Effect: "Allow" | "Deny";
  Sid?: string;
  [key: string]: unknown;
}>({
  type: "object",
  description:
    "One IAM policy statement: Effect, and Action/NotAction, Resource/NotResource, Condition as IAM defines them.",
  required: ["Effect"],
  properties: {
    Effect: { type: "string", enum: ["Allow", "Deny"], description: "Allow or Deny." },
    Sid: {
      type: "string",
      description: "Statement id: letters and digits.",
      pattern: "^[A-Za-z0-9]*$",
      maxLength: 128,
    },
  },
  "x-kubernetes-preserve-unknown-fields": true,
});

export const PermissionSetSpec = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        description:
          "Name users see and IAM role names carry, for example AdministratorAccess. Defaults to the object's name. At most 32 characters of [A-Za-z0-9_+=,.@-].",
        pattern: PERMISSION_SET_NAME_PATTERN,
      }),
    ),
    description: Type.Optional(
      Type.String({ description: "What the permission set grants.", maxLength: 700 }),
    ),
    sessionDuration: isoDuration("How long a console or CLI session lasts.", {
      min: "PT1H",
      max: "PT12H",
      default: "PT1H",
    }),
    relayState: Type.Optional(
      Type.String({
        description:
          "URL of the AWS console page users land on, for example https://console.aws.amazon.com/ec2/.",
        maxLength: 240,
        pattern: "^https://[^\\s]+$",
      }),
    ),
    managedPolicies: Type.Optional(
      Type.Array(ManagedPolicyArn, {
        description: "AWS managed policies attached to the role.",
        maxItems: MAX_POLICIES,
        "x-kubernetes-list-type": "set",
      }),
    ),
    customerManagedPolicies: Type.Optional(
      Type.Array(CustomerManagedPolicyRef, {
        description: "Customer managed policies attached to the role, resolved in each account.",
        maxItems: MAX_POLICIES,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["path", "name"],
      }),
    ),
    inlinePolicy: Type.Optional(
      Type.Object(
        {
          Version: enumOf(["2012-10-17", "2008-10-17"] as const, "Policy language version.", {
            default: "2012-10-17",
          }),
          Id: Type.Optional(
            Type.String({ description: "Optional policy identifier.", maxLength: 128 }),
          ),
          Statement: Type.Array(PolicyStatement, {
            description: "The policy's statements, as a list.",
            minItems: 1,
          }),
        },
        {
          description: `An IAM policy document (YAML or JSON object) put on the role as its one inline policy. At most ${INLINE_POLICY_MAX_BYTES} bytes and ${INLINE_POLICY_MAX_CHARS} non-whitespace characters; the controller refuses larger ones before any AWS call.`,
        },
      ),
    ),
    permissionsBoundary: Type.Optional(
      Type.Object(
        {
          managedPolicyArn: Type.Optional(ManagedPolicyArn),
          customerManagedPolicy: Type.Optional(CustomerManagedPolicyRef),
        },
        {
          description:
            "The most permissions the role can have: an AWS managed policy or a customer managed policy.",
          ...rules({
            rule: "has(self.managedPolicyArn) != has(self.customerManagedPolicy)",
            message: "set exactly one of managedPolicyArn or customerManagedPolicy",
          }),
        },
      ),
    ),
    tags: Type.Optional(
      stringMap("Tags put on the IAM role in every account.", {
        maxProperties: 40,
        maxValueLength: 256,
        keyRule: {
          rule: "self.all(k, k.matches('^[A-Za-z0-9 _.:/=+@-]{1,128}$') && !k.startsWith('aws:') && !k.startsWith('identitycenter.dev/'))",
          message:
            "tag keys are 1-128 characters of letters, digits, spaces and _.:/=+@- and must not start with 'aws:' or 'identitycenter.dev/'",
        },
      }),
    ),
  },
  {
    description: "Policies and settings of the IAM role created in each assigned account.",
    ...rules({
      rule: `(has(self.managedPolicies) ? size(self.managedPolicies) : 0) + (has(self.customerManagedPolicies) ? size(self.customerManagedPolicies) : 0) <= ${MAX_POLICIES}`,
      message: `at most ${MAX_POLICIES} managed and customer managed policies in total`,
    }),
  },
);

export const AccountProvisioning = Type.Object(
  {
    account: Type.String({ description: "Account object name." }),
    accountId: Type.String({ description: "AWS account id." }),
    roleArn: Type.Optional(Type.String({ description: "ARN of the role in that account." })),
    state: enumOf(["Provisioned", "Pending", "Failed"] as const, "Provisioning state."),
    reason: Type.Optional(
      Type.String({ description: "Why the state is not Provisioned, as a CamelCase word." }),
    ),
    message: Type.Optional(Type.String({ description: "Why the state is not Provisioned." })),
  },
  { description: "Provisioning of the role in one account." },
);

export const PermissionSetStatus = statusOf("Observed state of the permission set.", {
  name: Type.Optional(Type.String({ description: "The effective permission set name." })),
  provisionedAccounts: Type.Optional(
    Type.Integer({ description: "Accounts where the role is Provisioned.", minimum: 0 }),
  ),
  accounts: Type.Optional(
    Type.Array(AccountProvisioning, {
      description:
        "The role in each account the permission set is assigned to. While accounts change, the list is rewritten at most once per 0.1 s per row (every 25 s at 250 accounts, and always within 30 s); a change of the Ready status or reason is written at once.",
    }),
  ),
});

export type PermissionSetSpec = Static<typeof PermissionSetSpec>;
export type PermissionSetStatus = Static<typeof PermissionSetStatus>;
export type AccountProvisioning = Static<typeof AccountProvisioning>;

export const permissionSetDefinition: KindDefinition = {
  kind: "PermissionSet",
  plural: "permissionsets",
  singular: "permissionset",
  shortNames: ["ps", "permset"],
  description:
    "PermissionSet is a template of IAM policies; assigning it to an account provisions an IAM role there.",
  spec: PermissionSetSpec,
  status: PermissionSetStatus,
  rootRules: [
    {
      rule: "has(self.spec.name) || self.metadata.name.matches('^[A-Za-z0-9_+=,.@-]{1,32}$')",
      message:
        "the object name is longer than 32 characters: set spec.name to a permission set name of at most 32 characters",
      fieldPath: ".spec.name",
    },
  ],
  columns: [
    { name: "Name", type: "string", jsonPath: ".status.name", description: "Permission set name." },
    {
      name: "Session",
      type: "string",
      jsonPath: ".spec.sessionDuration",
      description: "Session duration.",
    },
    {
      name: "Accounts",
      type: "integer",
      jsonPath: ".status.provisionedAccounts",
      description: "Accounts where the role is provisioned.",
    },
    ...readyColumns,
  ],
};
