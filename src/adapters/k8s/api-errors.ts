/** The HTTP status of a failed client-node call (404, 409, ...), if it has one. */
export function apiStatusCode(err: unknown): number | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "number"
    ? err.code
    : undefined;
}

/** The API server's own message for a failed call (its Status body), else the error's text. */
export function apiErrorMessage(err: unknown): string {
  if (typeof err === "object" && err !== null && "body" in err && typeof err.body === "string") {
    try {
      const status = JSON.parse(err.body) as { message?: unknown };
      if (typeof status.message === "string") return status.message;
    } catch {
      // not a Status document; fall through to the error's own text
    }
  }
  return err instanceof Error ? err.message : String(err);
}
