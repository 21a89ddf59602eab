/** The HTTP status of a failed client-node call (404, 409, ...), if it has one. */
export function apiStatusCode(err: unknown): number | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "number"
    ? err.code
    : undefined;
}
