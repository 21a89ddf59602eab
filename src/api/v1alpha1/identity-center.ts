import Type, { type Static } from "typebox";
import { USER_SOURCE_PATTERN } from "./application.ts";
import {
  objectName,
  enumOf,
  isoDuration,
  readyColumns,
  rules,
  statusOf,
  stringMap,
  type KindDefinition,
} from "./schema.ts";

export const DEFAULT_SIGN_IN_URL = "https://signin.aws.amazon.com/saml";

const Portal = Type.Object(
  {
    hostname: Type.String({
      description: "DNS name users reach the portal at, for example sso.example.com.",
      minLength: 1,
      maxLength: 253,
      pattern: "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    }),
    externalUrl: Type.Optional(
      Type.String({
        description:
          "Base URL of the portal when it is not https://<hostname>, for example behind a path or on a local port.",
        maxLength: 1024,
        pattern: "^https?://[^\\s]+$",
      }),
    ),
    ingress: Type.Object(
      {
        enabled: Type.Boolean({ description: "Create an Ingress for the portal.", default: true }),
        className: Type.Optional(
          Type.String({ description: "IngressClass name.", maxLength: 253 }),
        ),
        annotations: Type.Optional(stringMap("Annotations put on the Ingress.")),
        tlsSecretName: Type.Optional(
          Type.String({
            description: "Secret with the TLS certificate for the hostname.",
            maxLength: 253,
            pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
          }),
        ),
      },
      { description: "How the portal is exposed.", default: { enabled: true } },
    ),
    replicas: Type.Integer({
      description: "Number of portal replicas. Sessions work across replicas.",
      default: 2,
      minimum: 1,
      maximum: 20,
    }),
    image: Type.Optional(
      Type.String({
        description: "Portal container image; defaults to the controller's own image.",
        maxLength: 1024,
      }),
    ),
    passwordHashConcurrency: Type.Integer({
      description:
        "Password checks each portal pod runs at once; its memory limit grows with it (more sign-ins per second, more memory). Beyond it and a short queue, sign-in answers 503 with Retry-After.",
      default: 4,
      minimum: 1,
      maximum: 32,
    }),
  },
  { description: "The access portal and SAML identity provider workload." },
);

/** OWASP's recommended minimum for Argon2id (m=19 MiB, t=2, p=1). */
export const DEFAULT_PASSWORD_HASHING = { memoryKiB: 19456, iterations: 2, parallelism: 1 };

const PasswordHashing = Type.Object(
  {
    memoryKiB: Type.Integer({
      description: "Argon2id memory cost in KiB (OWASP: at least 19456 with 2 iterations).",
      default: 19456,
      minimum: 7168,
      maximum: 262144,
    }),
    iterations: Type.Integer({
      description: "Argon2id passes over the memory.",
      default: 2,
      minimum: 1,
      maximum: 10,
    }),
    parallelism: Type.Integer({
      description: "Argon2id lanes.",
      default: 1,
      minimum: 1,
      maximum: 8,
    }),
  },
  {
    description:
      "Argon2id cost of new password hashes; older hashes are upgraded at the next sign-in.",
    default: DEFAULT_PASSWORD_HASHING,
    // OWASP's equivalent settings trade memory for passes (47 MiB x 1 ... 7 MiB x 5): refuse
    // any pair cheaper than the cheapest of them.
    ...rules({
      rule: "self.memoryKiB * self.iterations >= 35840",
      message:
        "memoryKiB x iterations must be at least 35840 (OWASP's minimum, e.g. 19456 KiB x 2 or 7168 KiB x 5)",
      fieldPath: ".memoryKiB",
    }),
  },
);

const SignIn = Type.Object(
  {
    mfa: enumOf(
      ["required", "optional", "disabled"] as const,
      "Whether users must enrol and use a TOTP authenticator.",
      { default: "required" },
    ),
    duration: isoDuration("Longest a portal session lasts.", {
      min: "PT15M",
      max: "PT168H",
      default: "PT8H",
    }),
    idleTimeout: isoDuration("A portal session ends after this long without activity.", {
      min: "PT5M",
      max: "PT24H",
      default: "PT1H",
    }),
    lockoutThreshold: Type.Integer({
      description: "Failed sign-ins in a row that lock the account for a growing period.",
      default: 5,
      minimum: 1,
      maximum: 100,
    }),
    passwordHashing: Type.Optional(PasswordHashing),
  },
  {
    description: "Sign-in policy for the access portal.",
    default: { mfa: "required", duration: "PT8H", idleTimeout: "PT1H", lockoutThreshold: 5 },
    ...rules({
      rule: "!self.idleTimeout.matches('^PT([0-9]+H)?([0-9]+M)?([0-9]+S)?$') || !self.duration.matches('^PT([0-9]+H)?([0-9]+M)?([0-9]+S)?$') || duration(self.idleTimeout.substring(2).lowerAscii()) <= duration(self.duration.substring(2).lowerAscii())",
      message: "idleTimeout must not be longer than duration",
      fieldPath: ".idleTimeout",
    }),
  },
);

const Aws = Type.Object(
  {
    partition: enumOf(["aws", "aws-us-gov", "aws-cn"] as const, "AWS partition of the accounts.", {
      default: "aws",
    }),
    signInUrl: Type.String({
      description:
        "AWS SAML sign-in endpoint the portal posts to; also the SAML:aud every role trusts.",
      default: DEFAULT_SIGN_IN_URL,
      maxLength: 1024,
      pattern: "^https://[^\\s]+$",
    }),
    stsEndpoint: Type.Optional(
      Type.String({
        description:
          "STS endpoint the portal calls for CLI credentials; defaults to the partition's.",
        maxLength: 1024,
        pattern: "^https?://[^\\s]+$",
      }),
    ),
  },
  {
    description: "Where the accounts live and how users sign in to them.",
    default: { partition: "aws", signInUrl: DEFAULT_SIGN_IN_URL },
  },
);

const AccessControlAttribute = Type.Object(
  {
    key: Type.String({
      description: "Session tag key (PrincipalTag:<key>).",
      pattern: "^[A-Za-z0-9_.:/=+@-]{1,128}$",
    }),
    source: Type.String({
      description:
        "A user field (userName, email, displayName, givenName, familyName, id) or attributes.<name>.",
      pattern: USER_SOURCE_PATTERN,
    }),
  },
  { description: "A session tag passed to AWS for attribute-based access control." },
);

/** A key of a Secret in the operator's namespace; the portal may `get` exactly that Secret. */
const SecretKeyRef = (description: string) =>
  Type.Object(
    {
      name: Type.String({
        description: "Secret name, in the operator's namespace.",
        minLength: 1,
        maxLength: 253,
        pattern: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
      }),
      key: Type.String({
        description: "Key in the Secret's data.",
        minLength: 1,
        maxLength: 253,
        pattern: "^[-._a-zA-Z0-9]+$",
      }),
    },
    { description },
  );

/** A claim name of an id_token or userinfo response (a JSON member name). */
const claimName = (description: string, fallback?: string) =>
  Type.String({
    description,
    minLength: 1,
    maxLength: 256,
    pattern: "^\\S+$",
    ...(fallback === undefined ? {} : { default: fallback }),
  });

export const DEFAULT_OIDC_SCOPES = ["openid", "profile", "email"];

const Oidc = Type.Object(
  {
    issuerUrl: Type.String({
      description:
        "The upstream's issuer, exactly as its id_tokens name it; <issuerUrl>/.well-known/openid-configuration is read for its endpoints and keys. https only.",
      maxLength: 1024,
      pattern: "^https://[^\\s?#]+$",
    }),
    clientId: Type.String({
      description: "The client id the upstream gave the portal.",
      minLength: 1,
      maxLength: 1024,
    }),
    clientSecret: SecretKeyRef(
      "Where the client secret is: a Secret of the operator's namespace that the portal may read by name.",
    ),
    scopes: Type.Array(Type.String({ minLength: 1, maxLength: 256, pattern: "^[\\x21-\\x7e]+$" }), {
      description: "Scopes requested; must include openid.",
      default: DEFAULT_OIDC_SCOPES,
      minItems: 1,
      maxItems: 32,
      "x-kubernetes-list-type": "set",
      ...rules({ rule: "self.exists(s, s == 'openid')", message: "scopes must include openid" }),
    }),
    userNameClaim: claimName(
      "Claim holding the userName matched to a User (ignoring case).",
      "preferred_username",
    ),
    emailClaim: claimName("Claim holding the email of a user created on first sign-in.", "email"),
    groupsClaim: Type.Optional(
      claimName(
        "Claim holding the user's upstream groups (an array of names or ids), mapped by groupMapping.",
      ),
    ),
  },
  {
    description:
      "An upstream OpenID Connect provider users sign in with (authorization code + PKCE).",
  },
);

const GroupMapping = Type.Object(
  {
    sameName: Type.Boolean({
      description:
        "An upstream group with no entry in mappings maps to the Group of the same object name.",
      default: false,
    }),
    mappings: Type.Optional(
      Type.Array(
        Type.Object(
          {
            upstream: Type.String({
              description: "The upstream group's name or id, as the groups claim carries it.",
              minLength: 1,
              maxLength: 1024,
            }),
            group: objectName("The Group object the upstream group's members join."),
          },
          { description: "One upstream group and the Group it grants." },
        ),
        {
          description: "Upstream groups and the Group each maps to.",
          maxItems: 1000,
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["upstream"],
        },
      ),
    ),
  },
  {
    description:
      "How upstream group claims become Group membership, refreshed at each sign-in. Only Groups owned by the identity source (label identitycenter.dev/managed-by: identity-source; created when missing) are changed; a mapping to a Group managed elsewhere is skipped and logged.",
    ...rules({
      rule: "self.sameName || (has(self.mappings) && size(self.mappings) > 0)",
      message: "groupMapping needs sameName: true or at least one mapping",
    }),
  },
);

/** The MFA classes of the SAML authentication context registry, REFEDS and the big IdPs. */
export const DEFAULT_SAML_MFA_CONTEXTS = [
  "https://refeds.org/profile/mfa",
  "http://schemas.microsoft.com/claims/multipleauthn",
  "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
  "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered",
  "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
];

/** An attribute name of a SAML assertion (its Name, often a URI). */
const attributeName = (description: string) =>
  Type.Optional(Type.String({ description, minLength: 1, maxLength: 1024, pattern: "^\\S+$" }));

const Saml = Type.Object(
  {
    metadataUrl: Type.Optional(
      Type.String({
        description:
          "URL of the upstream IdP's metadata, read by the controller (https only, at most 1 MiB, 10 s) and re-read every metadataRefreshInterval; the last good copy is kept when a read fails.",
        maxLength: 2048,
        pattern: "^https://[^\\s]+$",
      }),
    ),
    metadataXml: Type.Optional(
      Type.String({
        description: "The upstream IdP's metadata document.",
        maxLength: 262144,
      }),
    ),
    metadataRefreshInterval: isoDuration(
      "How often metadataUrl is read again (rolled-over signing certificates); unused with metadataXml.",
      { min: "PT5M", max: "PT168H", default: "PT24H" },
    ),
    userNameAttribute: attributeName(
      "Assertion attribute holding the userName matched to a User (ignoring case); the NameID when unset.",
    ),
    emailAttribute: attributeName(
      "Assertion attribute holding the email of a user created on first sign-in; the NameID when unset and it is an email address.",
    ),
    groupsAttribute: attributeName(
      "Assertion attribute holding the user's upstream groups (one value per group), mapped by groupMapping.",
    ),
    mfaAuthnContexts: Type.Array(
      Type.String({ minLength: 1, maxLength: 1024, pattern: "^\\S+$" }),
      {
        description:
          "AuthnContextClassRef values (or values of Entra ID's http://schemas.microsoft.com/claims/authnmethodsreferences attribute) that mean the upstream did multi-factor authentication.",
        default: DEFAULT_SAML_MFA_CONTEXTS,
        maxItems: 32,
        "x-kubernetes-list-type": "set",
      },
    ),
    clockSkew: isoDuration(
      "Clock difference allowed with the upstream IdP when checking an assertion's validity times.",
      { min: "PT0S", max: "PT10M", default: "PT2M" },
    ),
  },
  {
    description:
      "An upstream SAML 2.0 identity provider users sign in with; the portal is its service provider (see status.endpoints).",
    ...rules({
      rule: "has(self.metadataUrl) != has(self.metadataXml)",
      message: "set exactly one of metadataUrl or metadataXml",
    }),
  },
);

const IdentitySource = Type.Object(
  {
    type: enumOf(["internal", "saml", "oidc"] as const, "Where users sign in.", {
      default: "internal",
    }),
    displayName: Type.Optional(
      Type.String({
        description:
          "The upstream's name on the sign-in page's button (Sign in with <displayName>); the issuer's or IdP's host name when unset.",
        minLength: 1,
        maxLength: 64,
      }),
    ),
    oidc: Type.Optional(Oidc),
    saml: Type.Optional(Saml),
    jitProvisioning: Type.Boolean({
      description:
        "Create a User (labelled identitycenter.dev/managed-by: identity-source) for an upstream user who has none; otherwise unknown upstream users are refused.",
      default: false,
    }),
    groupMapping: Type.Optional(GroupMapping),
    trustUpstreamMfa: Type.Boolean({
      description:
        "When the upstream reports a multi-factor sign-in (OIDC amr, SAML authentication context), the portal does not ask for its own TOTP; when false, or when the upstream reports none, signIn.mfa applies.",
      default: true,
    }),
    scim: Type.Optional(
      Type.Object(
        {
          enabled: Type.Boolean({
            description: "Accept SCIM 2.0 provisioning of users and groups.",
            default: false,
          }),
        },
        { description: "SCIM provisioning from the upstream IdP." },
      ),
    ),
  },
  {
    description:
      "Where users come from and sign in. With an upstream (saml, oidc) password sign-in is off and the sign-in page sends users upstream.",
    default: { type: "internal", jitProvisioning: false, trustUpstreamMfa: true },
    ...rules(
      {
        rule: "self.type != 'saml' || has(self.saml)",
        message: "type saml needs the saml settings",
        fieldPath: ".saml",
      },
      {
        rule: "self.type != 'oidc' || has(self.oidc)",
        message: "type oidc needs the oidc settings",
        fieldPath: ".oidc",
      },
      {
        rule: "self.type == 'oidc' || !has(self.oidc)",
        message: "oidc settings are used only with type oidc",
        fieldPath: ".oidc",
      },
      {
        rule: "self.type == 'saml' || !has(self.saml)",
        message: "saml settings are used only with type saml",
        fieldPath: ".saml",
      },
      {
        rule: "self.type != 'internal' || (!self.jitProvisioning && !has(self.groupMapping) && !has(self.displayName))",
        message:
          "jitProvisioning, groupMapping and displayName apply to an upstream identity source (type saml or oidc)",
      },
      {
        rule: "self.type != 'oidc' || has(self.oidc.groupsClaim) == has(self.groupMapping)",
        message: "oidc.groupsClaim and groupMapping go together: set both or neither",
        fieldPath: ".groupMapping",
      },
      {
        rule: "self.type != 'saml' || has(self.saml.groupsAttribute) == has(self.groupMapping)",
        message: "saml.groupsAttribute and groupMapping go together: set both or neither",
        fieldPath: ".groupMapping",
      },
    ),
  },
);

export const IdentityCenterSpec = Type.Object(
  {
    portal: Portal,
    signIn: SignIn,
    aws: Aws,
    accessControlAttributes: Type.Optional(
      Type.Array(AccessControlAttribute, {
        description: "Attributes passed as session tags for ABAC.",
        maxItems: 50,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["key"],
      }),
    ),
    identitySource: IdentitySource,
  },
  { description: "The identity center instance." },
);

export const IdentityCenterStatus = statusOf("Observed state of the instance.", {
  portalUrl: Type.Optional(Type.String({ description: "Where users sign in." })),
  metadataUrl: Type.Optional(Type.String({ description: "The IdP's SAML metadata URL." })),
  entityId: Type.Optional(Type.String({ description: "The IdP's SAML entity id." })),
  signingCertificateFingerprint: Type.Optional(
    Type.String({ description: "SHA-256 fingerprint of the signing certificate." }),
  ),
  signingCertificate: Type.Optional(
    Type.String({
      description: "The IdP's signing certificate (PEM), as published in its metadata.",
    }),
  ),
  signingCertificateNotAfter: Type.Optional(
    Type.String({ description: "When the signing certificate expires.", format: "date-time" }),
  ),
  readyReplicas: Type.Optional(
    Type.Integer({ description: "Portal replicas that are ready.", minimum: 0 }),
  ),
  upstreamSaml: Type.Optional(
    Type.Object(
      {
        entityId: Type.String({ description: "The upstream IdP's entity id (its Issuer)." }),
        ssoUrl: Type.String({
          description: "Where the portal sends AuthnRequests (HTTP-Redirect binding).",
        }),
        signingCertificates: Type.Array(Type.String(), {
          description:
            "The upstream IdP's signing certificates (PEM): an assertion signed by any other key is refused.",
        }),
        source: Type.String({
          description: "The metadataUrl read, or sha256:<hash> of metadataXml.",
        }),
        readAt: Type.String({
          description: "When this metadata was last read successfully.",
          format: "date-time",
        }),
      },
      {
        description:
          "The upstream SAML IdP's metadata as the controller last read it: what the portal trusts (kept while a re-read fails; see the IdentitySourceReady condition).",
      },
    ),
  ),
  endpoints: Type.Optional(
    Type.Object(
      {
        ssoOidc: Type.Optional(
          Type.String({
            description:
              "Base URL of the SSO OIDC API (the SDKs' sso_oidc endpoint_url, AWS_ENDPOINT_URL_SSO_OIDC).",
          }),
        ),
        ssoPortal: Type.Optional(
          Type.String({
            description:
              "Base URL of the SSO portal API (the SDKs' sso endpoint_url, AWS_ENDPOINT_URL_SSO).",
          }),
        ),
        upstreamOidcRedirectUri: Type.Optional(
          Type.String({
            description:
              "With identitySource.type oidc: the redirect URI to register with the upstream provider for the portal's client.",
          }),
        ),
        upstreamSamlEntityId: Type.Optional(
          Type.String({
            description:
              "With identitySource.type saml: the portal's SP entity id (Identifier, Audience URI) to register with the upstream IdP.",
          }),
        ),
        upstreamSamlAcsUrl: Type.Optional(
          Type.String({
            description:
              "With identitySource.type saml: the portal's Assertion Consumer Service URL (Reply URL, Single sign-on URL), HTTP-POST binding.",
          }),
        ),
        upstreamSamlMetadataUrl: Type.Optional(
          Type.String({
            description:
              "With identitySource.type saml: the portal's SP metadata, for IdPs that import it.",
          }),
        ),
        scim: Type.Optional(
          Type.String({
            description:
              "With identitySource.scim.enabled: the SCIM 2.0 base URL (tenant URL) to give the identity provider that provisions users and groups, with a token from idc scim-token create.",
          }),
        ),
      },
      {
        description:
          "Where the AWS SDKs and CLIs sign in (see idc login), and what to register with an upstream identity provider.",
      },
    ),
  ),
});

export type IdentityCenterSpec = Static<typeof IdentityCenterSpec>;
export type IdentityCenterStatus = Static<typeof IdentityCenterStatus>;

export const identityCenterDefinition: KindDefinition = {
  kind: "IdentityCenter",
  plural: "identitycenters",
  singular: "identitycenter",
  shortNames: ["idc"],
  description:
    "IdentityCenter is the instance: the access portal, its sign-in policy and how it reaches AWS.",
  spec: IdentityCenterSpec,
  status: IdentityCenterStatus,
  columns: [
    { name: "URL", type: "string", jsonPath: ".status.portalUrl", description: "Portal URL." },
    { name: "MFA", type: "string", jsonPath: ".spec.signIn.mfa", description: "MFA policy." },
    {
      name: "Replicas",
      type: "integer",
      jsonPath: ".status.readyReplicas",
      description: "Ready portal replicas.",
    },
    ...readyColumns,
  ],
  rootRules: [
    {
      // The name becomes part of the portal's Deployment, Service and label values.
      rule: "self.metadata.name.matches('^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$')",
      message:
        "name must be at most 40 lowercase letters, digits and '-', starting with a letter (it names the portal's Service)",
    },
  ],
};
