import Type, { type Static } from "typebox";
import { enumOf, readyColumns, rules, statusOf, type KindDefinition } from "./schema.ts";

/** Where a value for the SP comes from: a User field or one of the user's attributes. */
export const USER_SOURCE_PATTERN =
  "^(userName|email|displayName|givenName|familyName|id|attributes\\.[A-Za-z][A-Za-z0-9_.-]{0,63})$";
const USER_SOURCE_DESCRIPTION =
  "A user field (userName, email, displayName, givenName, familyName, id) or attributes.<name>.";

const HTTPS_OR_LOOPBACK_RULE = {
  rule: "self.startsWith('https://') || self.matches('^http://(localhost|127\\\\.0\\\\.0\\\\.1)(:[0-9]+)?(/.*)?$')",
  message: "must be an https:// URL (plain http only for localhost)",
};

export const AttributeMapping = Type.Object(
  {
    name: Type.String({
      description: "SAML attribute name, for example https://example.com/claims/department.",
      minLength: 1,
      maxLength: 1024,
    }),
    nameFormat: Type.Optional(
      enumOf(["basic", "uri", "unspecified"] as const, "SAML attribute NameFormat.", {
        default: "unspecified",
      }),
    ),
    source: Type.Optional(
      Type.String({ description: USER_SOURCE_DESCRIPTION, pattern: USER_SOURCE_PATTERN }),
    ),
    value: Type.Optional(
      Type.String({ description: "A fixed value sent to every user.", maxLength: 1024 }),
    ),
  },
  {
    description: "One SAML attribute sent to the application.",
    ...rules({
      rule: "has(self.source) != has(self.value)",
      message: "set exactly one of source or value",
    }),
  },
);

export const ApplicationSpec = Type.Object(
  {
    displayName: Type.String({
      description: "Name shown in the access portal.",
      minLength: 1,
      maxLength: 256,
    }),
    description: Type.Optional(
      Type.String({ description: "What the application is.", maxLength: 1024 }),
    ),
    entityId: Type.String({
      description: "The service provider's SAML entity id (the Audience of assertions).",
      minLength: 1,
      maxLength: 1024,
    }),
    acsUrl: Type.String({
      description: "The service provider's Assertion Consumer Service URL (HTTP-POST binding).",
      maxLength: 1024,
      ...rules(HTTPS_OR_LOOPBACK_RULE),
    }),
    startUrl: Type.Optional(
      Type.String({
        description:
          "Where the portal sends users to start an SP-initiated sign-in, if the SP needs that.",
        maxLength: 1024,
        ...rules(HTTPS_OR_LOOPBACK_RULE),
      }),
    ),
    relayState: Type.Optional(
      Type.String({ description: "RelayState sent with IdP-initiated sign-in.", maxLength: 1024 }),
    ),
    nameId: Type.Object(
      {
        format: enumOf(
          ["emailAddress", "persistent", "unspecified", "transient"] as const,
          "SAML NameID format.",
          { default: "emailAddress" },
        ),
        source: Type.String({
          description: USER_SOURCE_DESCRIPTION,
          default: "email",
          pattern: USER_SOURCE_PATTERN,
        }),
      },
      {
        description: "How the subject's NameID is made.",
        default: { format: "emailAddress", source: "email" },
      },
    ),
    attributeMappings: Type.Optional(
      Type.Array(AttributeMapping, {
        description: "Attributes sent in the assertion.",
        maxItems: 50,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
      }),
    ),
    signing: Type.Object(
      {
        assertion: Type.Boolean({ description: "Sign the Assertion.", default: true }),
        response: Type.Boolean({ description: "Sign the Response.", default: false }),
      },
      {
        description: "What the IdP signs; at least one of them.",
        default: { assertion: true, response: false },
        ...rules({
          rule: "self.assertion || self.response",
          message: "sign the assertion, the response, or both",
        }),
      },
    ),
    sessionDuration: Type.Optional(
      Type.String({
        description: "How long the assertion's session lasts (ISO-8601, for example PT8H).",
        pattern: "^PT([0-9]+H)?([0-9]+M)?$",
        minLength: 3,
        maxLength: 16,
      }),
    ),
  },
  { description: "A SAML 2.0 service provider users can sign in to from the portal." },
);

export const ApplicationStatus = statusOf("Observed state of the application.", {
  metadataUrl: Type.Optional(
    Type.String({ description: "URL of the IdP metadata to configure in the application." }),
  ),
  signInUrl: Type.Optional(
    Type.String({ description: "Portal URL that starts an IdP-initiated sign-in." }),
  ),
});

export type ApplicationSpec = Static<typeof ApplicationSpec>;
export type ApplicationStatus = Static<typeof ApplicationStatus>;

export const applicationDefinition: KindDefinition = {
  kind: "Application",
  plural: "applications",
  singular: "application",
  shortNames: ["samlapp"],
  description: "Application is a SAML 2.0 service provider (Salesforce, Microsoft 365, ...).",
  spec: ApplicationSpec,
  status: ApplicationStatus,
  columns: [
    {
      name: "DisplayName",
      type: "string",
      jsonPath: ".spec.displayName",
      description: "Display name.",
    },
    { name: "EntityId", type: "string", jsonPath: ".spec.entityId", description: "SP entity id." },
    ...readyColumns,
  ],
};
