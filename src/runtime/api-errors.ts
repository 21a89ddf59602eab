/** The HTTP status of a failed client-node call (404, 409, ...), if it has one. */
export function apiStatusCode(err: unknown): number | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "number"
    ? err.code
    : undefined;
}

/** The API server's own message for a failed call (its Status body), else the error's text. */
export function apiErrorMessage(err: unknown): string {
  if (typeof err === "object" && err !== null && "body" in err) {
    const body = err.body;
    if (typeof body === "string") {
      try {
        return (JSON.parse(body) as { message?: string }).message ?? body;
      } catch {
        return body; // not a Status document
      }
    }
    if (typeof body === "object" && body !== null && "message" in body) return String(body.message);
  }
  return err instanceof Error ? err.message : String(err);
}
