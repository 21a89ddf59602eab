import Type, { type Static } from "typebox";
import { enumOf, readyColumns, rules, statusOf, type KindDefinition } from "./schema.ts";

/** Where a value for the SP comes from: a User field or one of the user's attributes. */
export const USER_SOURCE_PATTERN =
  "^(userName|email|displayName|givenName|familyName|id|attributes\\.[A-Za-z][A-Za-z0-9_.-]{0,63})$";
const USER_SOURCE_DESCRIPTION =
  "A user field (userName, email, displayName, givenName, familyName, id) or attributes.<name>.";

/**
 * What AWS sign-in and STS accept, as RE2/ECMAScript patterns on lower-cased text. They are the
 * CRD's CEL rules and the controller's and the portal's run-time checks (`awsSignInClaims`):
 * assertions for these audiences, endpoints and attributes are signed only with the instance
 * key, for the roles a user is assigned, never through an Application.
 */
export const AWS_AUDIENCE_PATTERN = String.raw`^\s*urn:amazon:webservices(:(cn|govcloud))?\s*$`;
/** AWS sign-in hosts in every partition, regional ones included (`eu-west-1.signin...`). */
const AWS_SIGN_IN_HOSTS = String.raw`([a-z0-9-]+\.)*signin\.(aws\.amazon\.com|amazonaws\.cn|amazonaws-us-gov\.com|c2shome\.ic\.gov|sc2shome\.sgov\.gov)\.?`;
export const AWS_SIGN_IN_HOST_PATTERN = `^${AWS_SIGN_IN_HOSTS}$`;
/**
 * A URL on an AWS sign-in host, read without a URL parser (CEL's `url()` is too costly for the
 * API server's budget): any user info before the host, any port, path, query or fragment after.
 */
const AWS_SIGN_IN_URL_PATTERN = String.raw`^\s*https?://([^/?#\\]*@)?${AWS_SIGN_IN_HOSTS}(:[0-9]*)?([/?#\\].*)?\s*$`;
export const AWS_ATTRIBUTE_PATTERN = String.raw`^\s*https?://aws\.amazon\.com/saml/attributes/`;
/**
 * An ACS URL the API server and a browser read alike: an ASCII host name and an optional port,
 * no user info, no backslash. Browsers map Unicode dots and `%2E` in a host to `.` and read `\`
 * as `/`, which would hide a host from a rule that reads the text.
 */
const PLAIN_URL_PATTERN = String.raw`^https?://[A-Za-z0-9.-]+(:[0-9]+)?([/?#][^\\]*)?$`;

/**
 * An annotation on an Application that rolls its signing key: whenever its value changes (set
 * it to the current time, say), the controller makes a new key and certificate, and the
 * application's metadata and status publish the new certificate at once.
 */
export const ROTATE_SIGNING_KEY_ANNOTATION = "identitycenter.dev/rotate-signing-key";

/** A pattern as a CEL string literal. */
const cel = (pattern: string) => `'${pattern.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;

const NOT_AWS_SIGN_IN_HOST_RULE = {
  rule: `!self.lowerAscii().matches(${cel(AWS_SIGN_IN_URL_PATTERN)})`,
  message:
    "must not be an AWS sign-in endpoint: AWS sign-in gets only the instance's assertions, for assigned roles",
};

const HTTPS_OR_LOOPBACK_RULE = {
  rule: "self.startsWith('https://') || self.matches('^http://(localhost|127\\\\.0\\\\.0\\\\.1)(:[0-9]+)?(/.*)?$')",
  message: "must be an https:// URL (plain http only for localhost)",
};

export const AttributeMapping = Type.Object(
  {
    name: Type.String({
      description:
        "SAML attribute name, for example https://example.com/claims/department. Not under https://aws.amazon.com/SAML/Attributes/.",
      minLength: 1,
      maxLength: 1024,
      ...rules({
        rule: `!self.lowerAscii().matches(${cel(AWS_ATTRIBUTE_PATTERN)})`,
        message:
          "must not be an AWS sign-in attribute (https://aws.amazon.com/SAML/Attributes/...): roles are granted by AccountAssignments",
      }),
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
      description:
        "The service provider's SAML entity id (the Audience of assertions), unique among Applications. Not the AWS sign-in audience.",
      minLength: 1,
      maxLength: 1024,
      ...rules({
        rule: `!self.lowerAscii().matches(${cel(AWS_AUDIENCE_PATTERN)}) && !self.lowerAscii().matches(${cel(AWS_SIGN_IN_URL_PATTERN)})`,
        message:
          "must not be the AWS sign-in audience: AWS accounts are opened through AccountAssignments, not Applications",
      }),
    }),
    acsUrl: Type.String({
      description:
        "The service provider's Assertion Consumer Service URL (HTTP-POST binding). Not an AWS sign-in endpoint.",
      maxLength: 1024,
      ...rules(
        HTTPS_OR_LOOPBACK_RULE,
        {
          rule: `self.matches(${cel(PLAIN_URL_PATTERN)})`,
          message:
            "must be a plain URL: an ASCII host name (punycode for international names), no user info, no backslash",
        },
        NOT_AWS_SIGN_IN_HOST_RULE,
      ),
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
    Type.String({
      description:
        "URL of this application's IdP metadata (its own signing certificate) to configure in the service provider.",
    }),
  ),
  signingCertificate: Type.Optional(
    Type.String({
      description:
        "The certificate (PEM) of the key that signs this application's assertions, and only them.",
    }),
  ),
  signingCertificateFingerprint: Type.Optional(
    Type.String({ description: "SHA-256 fingerprint of the application's signing certificate." }),
  ),
  signingCertificateNotAfter: Type.Optional(
    Type.String({
      description: "When the application's signing certificate expires.",
      format: "date-time",
    }),
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
    {
      name: "Certificate",
      type: "string",
      jsonPath: ".status.signingCertificateFingerprint",
      description: "SHA-256 fingerprint of the application's signing certificate.",
      priority: 1,
    },
    ...readyColumns,
  ],
};
