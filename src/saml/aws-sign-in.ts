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
