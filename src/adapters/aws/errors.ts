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

/** Errors of the network rather than of AWS: no answer in time, connection refused or cut. */
const NETWORK_CODES = new Set([
  "ETIMEDOUT",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** Whether an error (or the STS error behind an AssumeRoleError) means AWS could not be reached. */
export function isNetworkFailure(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  if (errorName(err) === "TimeoutError") return true;
  const code = "code" in err && typeof err.code === "string" ? err.code : "";
  if (NETWORK_CODES.has(code)) return true;
  return "cause" in err && err.cause !== err && isNetworkFailure(err.cause);
}

/**
 * Classifies an AWS SDK error: malformed input is terminal (retrying cannot help), throttling,
 * 5xx and network failures (timeouts, resets) are retried with backoff, access and not-found
 * errors become conditions. An AssumeRoleError is classified by the STS error it carries.
 */
export function classifyAwsError(err: unknown): ErrorClass {
  if (err instanceof Error && err.name === "AssumeRoleError" && err.cause !== undefined)
    return classifyAwsError(err.cause);
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
  if (isNetworkFailure(err)) return "transient";
  return "other";
}

export function errorMessage(err: unknown): string {
  // The wrapper only says which role; the STS error behind it says why.
  if (err instanceof Error && err.name === "AssumeRoleError" && err.cause !== undefined)
    return errorMessage(err.cause);
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
