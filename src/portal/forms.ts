import type { FastifySchema } from "fastify";

/** A parsed urlencoded form or query string: each field a string, or missing. */
export type Form = Record<string, string | undefined>;

/** An object of optional string fields: a field sent twice (an array) is refused. */
function fields(names: readonly string[]) {
  return {
    type: "object",
    properties: Object.fromEntries(names.map((name) => [name, { type: "string" }])),
  };
}

/**
 * The schema of a route that takes a form: a request with no body, or one that is not an
 * object of strings (JSON null, a repeated field), is refused with a 400 before the handler
 * runs, so a handler can read `req.body` as a Form.
 */
export function formRoute(names: readonly string[], query: readonly string[] = []): FastifySchema {
  return { body: fields(names), ...(query.length > 0 ? { querystring: fields(query) } : {}) };
}

/** The schema of a route that reads a query string of single string fields. */
export function queryRoute(names: readonly string[]): FastifySchema {
  return { querystring: fields(names) };
}
