import type { Application, ApplicationAssignment, Group, User } from "../api/v1alpha1/index.ts";
import type { ResponseInput, SamlAttribute } from "../saml/response.ts";
import { assignedTo } from "./access.ts";
import { isoDurationSeconds } from "../plan/naming.ts";

/**
 * A user field or `attributes.<name>`, as the CRDs' `source` fields name them (the API's
 * USER_SOURCE_PATTERN). Each field is named, not looked up by key: givenName and familyName
 * live under spec.name, not at the top of the spec.
 */
export function userValue(user: User, source: string): string | undefined {
  if (source.startsWith("attributes.")) return user.spec.attributes?.[source.slice(11)];
  switch (source) {
    case "id":
      return user.metadata.uid ?? user.metadata.name;
    case "userName":
      return user.spec.userName;
    case "email":
      return user.spec.email;
    case "displayName":
      return user.spec.displayName;
    case "givenName":
      return user.spec.name?.givenName;
    case "familyName":
      return user.spec.name?.familyName;
    default:
      return undefined;
  }
}

/**
 * The SAML applications a user may sign in to: assigned to the user or to one of their
 * groups, sorted by display name. Pure, like `accessibleAccounts`: a membership change applies
 * on the next request.
 */
export function accessibleApplications(input: {
  user: User;
  groups: readonly Group[];
  applications: readonly Application[];
  assignments: readonly ApplicationAssignment[];
}): Application[] {
  const assigned = new Set(
    input.assignments.filter(assignedTo(input.user, input.groups)).map((a) => a.spec.application),
  );
  return input.applications
    .filter((app) => assigned.has(app.metadata.name) && !app.metadata.deletionTimestamp)
    .sort((a, b) => a.spec.displayName.localeCompare(b.spec.displayName));
}

const NAME_ID_FORMATS = {
  emailAddress: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
  persistent: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
  transient: "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
  unspecified: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
} as const;

const ATTRIBUTE_NAME_FORMATS = {
  basic: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
  uri: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
  unspecified: "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified",
} as const;

export class ApplicationSignInError extends Error {}

/**
 * What the IdP asserts to an application for a user: NameID and attributes from the
 * Application's mappings. A NameID the user has no value for is refused rather than sent
 * empty; an attribute the user has no value for is left out.
 */
export function applicationResponseInput(
  app: Application,
  user: User,
  options: { issuer: string; now: Date; transientId: string },
): ResponseInput {
  const { nameId } = app.spec;
  const subject =
    nameId.format === "transient" ? options.transientId : userValue(user, nameId.source);
  if (!subject) {
    throw new ApplicationSignInError(
      `Your account has no ${nameId.source}, which ${app.spec.displayName} needs to sign you in.`,
    );
  }
  const attributes: SamlAttribute[] = [];
  for (const mapping of app.spec.attributeMappings ?? []) {
    const value = mapping.value ?? (mapping.source ? userValue(user, mapping.source) : undefined);
    if (value === undefined || value === "") continue;
    attributes.push({
      name: mapping.name,
      nameFormat: ATTRIBUTE_NAME_FORMATS[mapping.nameFormat ?? "unspecified"],
      values: [value],
    });
  }
  const session = app.spec.sessionDuration;
  return {
    issuer: options.issuer,
    destination: app.spec.acsUrl,
    audience: app.spec.entityId,
    nameId: subject,
    nameIdFormat: NAME_ID_FORMATS[nameId.format],
    attributes,
    now: options.now,
    ...(session
      ? {
          sessionNotOnOrAfter: new Date(options.now.getTime() + isoDurationSeconds(session) * 1000),
        }
      : {}),
  };
}
