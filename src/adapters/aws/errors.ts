/** What to do about an AWS error. */
export type ErrorClass =
  "throttled" | "transient" | "accessDenied" | "notFound" | "conflict" | "malformed" | "other";

const THROTTLING = new Set([
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "SlowDown",
]);
const MALFORMED = new Set([
  "MalformedPolicyDocument",
  "MalformedPolicyDocumentException",
  "InvalidInput",
  "InvalidInputException",
  "ValidationError",
  "LimitExceeded",
  "LimitExceededException",
]);

export function errorName(err: unknown): string {
  return typeof err === "object" && err !== null && "name" in err && typeof err.name === "string"
    ? err.name
    : "";
}

export function httpStatus(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null || !("$metadata" in err)) return undefined;
  const meta = (err as { $metadata?: { httpStatusCode?: number } }).$metadata;
  return meta?.httpStatusCode;
}

/**
 * Classifies an AWS SDK error: malformed input is terminal (retrying cannot help), throttling
 * and 5xx are retried with backoff, access and not-found errors become conditions.
 */
export function classifyAwsError(err: unknown): ErrorClass {
  const name = errorName(err);
  if (THROTTLING.has(name)) return "throttled";
  if (MALFORMED.has(name)) return "malformed";
  if (
    name === "AccessDenied" ||
    name === "AccessDeniedException" ||
    name === "UnauthorizedOperation"
  )
    return "accessDenied";
  if (name === "NoSuchEntity" || name === "NoSuchEntityException") return "notFound";
  if (
    name === "EntityAlreadyExists" ||
    name === "EntityAlreadyExistsException" ||
    name === "DeleteConflict" ||
    name === "DeleteConflictException"
  )
    return "conflict";
  const status = httpStatus(err);
  if (status !== undefined && status >= 500) return "transient";
  if (status === 429) return "throttled";
  return "other";
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
