/**
 * What the SCIM service publishes about itself (RFC 7643 5-7): the attributes it keeps of
 * Users and Groups (a subset of the core schemas, plus the enterprise extension), its resource
 * types and its configuration. Clients and checkers fill exactly these attributes, so each one
 * listed here is stored and returned; attributes a client sends that are not listed (title,
 * phoneNumbers, ...) are ignored, as RFC 7644 3.3 allows.
 */
export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

export const KNOWN_SCHEMAS = [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA] as const;

/** The most members one PATCH or PUT may leave in a Group (the Group CRD's maxItems). */
export const MAX_GROUP_MEMBERS = 10_000;
/** Page size when a client asks for none, and the most one page holds. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

interface Attribute {
  name: string;
  type: "string" | "boolean" | "complex" | "reference";
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: "readOnly" | "readWrite" | "immutable";
  returned: "always" | "default";
  uniqueness: "none" | "server";
  subAttributes?: Attribute[];
  referenceTypes?: string[];
  canonicalValues?: string[];
}

function attr(
  name: string,
  description: string,
  more: Partial<Omit<Attribute, "name" | "description">> = {},
): Attribute {
  return {
    name,
    type: "string",
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: "readWrite",
    returned: "default",
    uniqueness: "none",
    ...more,
  };
}

const USER_ATTRIBUTES: Attribute[] = [
  attr("userName", "Sign-in name; unique, compared ignoring case. No whitespace.", {
    required: true,
    uniqueness: "server",
  }),
  attr("name", "The user's name in parts.", {
    type: "complex",
    subAttributes: [attr("givenName", "Given (first) name."), attr("familyName", "Family name.")],
  }),
  attr("displayName", "Name shown in the portal and to applications."),
  attr("active", "Inactive users cannot sign in and lose their sessions at once.", {
    type: "boolean",
  }),
  attr("emails", "Email addresses; the primary one (or the first) is the user's email.", {
    type: "complex",
    multiValued: true,
    required: true,
    subAttributes: [
      attr("value", "The email address.", { required: true }),
      attr("type", "work, home or other.", { canonicalValues: ["work", "home", "other"] }),
      attr("primary", "Whether this is the user's email.", { type: "boolean" }),
    ],
  }),
];

const ENTERPRISE_ATTRIBUTES: Attribute[] = [
  attr("employeeNumber", "Employee number (kept as attributes.employeeNumber)."),
  attr("costCenter", "Cost center (attributes.costCenter)."),
  attr("organization", "Organization (attributes.organization)."),
  attr("division", "Division (attributes.division)."),
  attr("department", "Department (attributes.department)."),
  attr("manager", "The user's manager (its id as attributes.manager).", {
    type: "complex",
    subAttributes: [attr("value", "The manager's id.", { caseExact: true })],
  }),
];

const GROUP_ATTRIBUTES: Attribute[] = [
  attr("displayName", "The group's name.", { required: true }),
  attr("members", "The group's users (groups do not nest).", {
    type: "complex",
    multiValued: true,
    subAttributes: [
      attr("value", "A user's id.", { caseExact: true, mutability: "immutable" }),
      attr("$ref", "The user's URI.", {
        type: "reference",
        referenceTypes: ["User"],
        mutability: "immutable",
      }),
      attr("type", "Always User.", { mutability: "immutable", canonicalValues: ["User"] }),
    ],
  }),
];

function schema(
  { id, name, description }: { id: string; name: string; description: string },
  attributes: Attribute[],
  base: string,
) {
  return {
    schemas: [SCHEMA_SCHEMA],
    id,
    name,
    description,
    attributes,
    meta: { resourceType: "Schema", location: `${base}/Schemas/${id}` },
  };
}

export function schemaDocuments(base: string) {
  return [
    schema(
      { id: USER_SCHEMA, name: "User", description: "A workforce user." },
      USER_ATTRIBUTES,
      base,
    ),
    schema(
      { id: ENTERPRISE_SCHEMA, name: "EnterpriseUser", description: "Enterprise user attributes." },
      ENTERPRISE_ATTRIBUTES,
      base,
    ),
    schema(
      { id: GROUP_SCHEMA, name: "Group", description: "A group of workforce users." },
      GROUP_ATTRIBUTES,
      base,
    ),
  ];
}

export function resourceTypeDocuments(base: string) {
  return [
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: "User",
      name: "User",
      endpoint: "/Users",
      description: "Workforce users (identitycenter.dev User objects).",
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_SCHEMA, required: false }],
      meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/User` },
    },
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: "Group",
      name: "Group",
      endpoint: "/Groups",
      description: "Groups of workforce users (identitycenter.dev Group objects).",
      schema: GROUP_SCHEMA,
      schemaExtensions: [],
      meta: { resourceType: "ResourceType", location: `${base}/ResourceTypes/Group` },
    },
  ];
}

export function serviceProviderConfig(base: string, documentationUri: string) {
  return {
    schemas: [SPC_SCHEMA],
    documentationUri,
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_PAGE_SIZE },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: "oauthbearertoken",
        name: "Bearer token",
        description: "A token made with `idc scim-token create`, sent as Authorization: Bearer.",
        specUri: "https://www.rfc-editor.org/rfc/rfc6750",
        primary: true,
      },
    ],
    meta: {
      resourceType: "ServiceProviderConfig",
      location: `${base}/ServiceProviderConfig`,
    },
  };
}
