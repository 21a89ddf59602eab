import {
  AWS_ATTRIBUTE_PATTERN,
  AWS_AUDIENCE_PATTERN,
  AWS_SIGN_IN_HOST_PATTERN,
} from "../api/v1alpha1/application.ts";
import type { SamlAttribute } from "./response.ts";

export const AWS_AUDIENCE = "urn:amazon:webservices";
export const ROLE_SESSION_NAME_PATTERN = /^[\w+=,.@-]{2,64}$/;
const AWS_ATTR = "https://aws.amazon.com/SAML/Attributes";

export interface AwsSignInInput {
  roleArn: string;
  samlProviderArn: string;
  roleSessionName: string;
  sessionDurationSeconds: number;
  principalTags: Record<string, string>;
}

/**
 * The attributes AWS sign-in and STS read: exactly one Role value "roleArn,samlProviderArn",
 * RoleSessionName, SessionDuration, and a PrincipalTag per access-control attribute.
 */
export function awsSignInAttributes(input: AwsSignInInput): SamlAttribute[] {
  if (!ROLE_SESSION_NAME_PATTERN.test(input.roleSessionName)) {
    throw new Error(`RoleSessionName "${input.roleSessionName}" must match [\\w+=,.@-]{2,64}`);
  }
  const tags = Object.entries(input.principalTags).slice(0, 50);
  return [
    { name: `${AWS_ATTR}/Role`, values: [`${input.roleArn},${input.samlProviderArn}`] },
    { name: `${AWS_ATTR}/RoleSessionName`, values: [input.roleSessionName] },
    { name: `${AWS_ATTR}/SessionDuration`, values: [String(input.sessionDurationSeconds)] },
    ...tags.map(([key, value]) => ({ name: `${AWS_ATTR}/PrincipalTag:${key}`, values: [value] })),
  ];
}

/** What an Application would need to be trusted as AWS sign-in; each one refuses it. */
export interface AwsSignInClaim {
  field: string;
  message: string;
}

const audience = new RegExp(AWS_AUDIENCE_PATTERN);
const signInHost = new RegExp(AWS_SIGN_IN_HOST_PATTERN);
const awsAttribute = new RegExp(AWS_ATTRIBUTE_PATTERN);

/**
 * The host a browser posts to for `url` (WHATWG parsing: IDNA mapping, `\` as `/`, userinfo
 * dropped), lower-cased; undefined when a browser could not parse it either.
 */
function browserHost(url: string): string | undefined {
  return URL.canParse(url) ? new URL(url).hostname.toLowerCase() : undefined;
}

/**
 * The run-time twin of the Application CRD's rules against impersonating AWS sign-in: objects
 * stored before those rules (Helm never upgrades CRDs) or under a CRD without them are refused
 * by the controller (a status condition) and by the portal (before anything is signed). The
 * ACS URL is read the way a browser reads it, since a browser is what follows it.
 */
export function awsSignInClaims(spec: {
  entityId: string;
  acsUrl: string;
  attributeMappings?: readonly { name: string }[];
}): AwsSignInClaim[] {
  const claims: AwsSignInClaim[] = [];
  const entityHost = browserHost(spec.entityId.trim());
  if (
    audience.test(spec.entityId.toLowerCase()) ||
    (entityHost !== undefined && signInHost.test(entityHost))
  )
    claims.push({ field: "spec.entityId", message: "is the AWS sign-in audience" });
  const acsHost = browserHost(spec.acsUrl.trim());
  if (acsHost === undefined)
    claims.push({ field: "spec.acsUrl", message: "is not a URL a browser can post to" });
  else if (signInHost.test(acsHost))
    claims.push({ field: "spec.acsUrl", message: "is an AWS sign-in endpoint" });
  for (const [i, mapping] of (spec.attributeMappings ?? []).entries())
    if (awsAttribute.test(mapping.name.toLowerCase()))
      claims.push({
        field: `spec.attributeMappings[${String(i)}].name`,
        message: "is an AWS sign-in attribute",
      });
  return claims;
}
