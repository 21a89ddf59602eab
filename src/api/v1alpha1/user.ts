import Type, { type Static } from "typebox";
import { readyColumns, rules, statusOf, stringMap, type KindDefinition } from "./schema.ts";

export const UserSpec = Type.Object(
  {
    userName: Type.String({
      description:
        "Sign-in name and primary identifier; unique across all users, compared ignoring case. No whitespace. Users whose userName clashes with another's are not Ready and get no access.",
      minLength: 1,
      maxLength: 128,
      pattern: "^\\S+$",
    }),
    email: Type.String({
      description: "Primary email address; unique across all users, compared case-insensitively.",
      minLength: 3,
      maxLength: 254,
      pattern: "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$",
    }),
    displayName: Type.Optional(
      Type.String({ description: "Name shown in the portal and to applications.", maxLength: 256 }),
    ),
    name: Type.Optional(
      Type.Object(
        {
          givenName: Type.Optional(
            Type.String({ description: "Given (first) name.", maxLength: 256 }),
          ),
          familyName: Type.Optional(
            Type.String({ description: "Family (last) name.", maxLength: 256 }),
          ),
        },
        { description: "The user's name in parts, as SCIM and SAML applications expect it." },
      ),
    ),
    active: Type.Boolean({
      description: "Inactive users cannot sign in and lose their sessions. Defaults to true.",
      default: true,
    }),
    attributes: Type.Optional(
      stringMap(
        "Free-form attributes (department, costCenter, ...) for access-control attributes (ABAC) and application attribute mappings.",
        {
          maxProperties: 50,
          maxValueLength: 256,
          keyRule: {
            rule: "self.all(k, k.matches('^[A-Za-z][A-Za-z0-9_.-]{0,63}$'))",
            message:
              "attribute names must start with a letter and contain only letters, digits, '_', '.' and '-' (at most 64 characters)",
          },
        },
      ),
    ),
  },
  {
    description: "A workforce user of the identity store.",
    ...rules({
      rule: "!has(self.displayName) || size(self.displayName.trim()) > 0",
      message: "displayName must not be blank",
      fieldPath: ".displayName",
    }),
  },
);

export const UserStatus = statusOf("Observed state of the user.", {
  groups: Type.Optional(
    Type.Array(Type.String({ description: "A Group object name." }), {
      description: "Groups the user is a member of, sorted.",
    }),
  ),
  accountAssignments: Type.Optional(
    Type.Integer({
      description: "Number of (account, permission set) pairs the user can use.",
      minimum: 0,
    }),
  ),
});

export type UserSpec = Static<typeof UserSpec>;
export type UserStatus = Static<typeof UserStatus>;

export const userDefinition: KindDefinition = {
  kind: "User",
  plural: "users",
  singular: "user",
  shortNames: ["idcuser"],
  description: "User is a workforce user: a person who signs in to the access portal.",
  spec: UserSpec,
  status: UserStatus,
  columns: [
    { name: "UserName", type: "string", jsonPath: ".spec.userName", description: "Sign-in name." },
    { name: "Email", type: "string", jsonPath: ".spec.email", description: "Email address." },
    { name: "Active", type: "boolean", jsonPath: ".spec.active", description: "May sign in." },
    {
      name: "Groups",
      type: "string",
      jsonPath: ".status.groups",
      description: "Groups the user is in.",
      priority: 1,
    },
    ...readyColumns,
  ],
};
