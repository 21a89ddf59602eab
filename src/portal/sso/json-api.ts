import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { errorResponse, SsoApiError } from "./errors.ts";

function parseJson(body: string): unknown {
  // The SDKs send an empty body (or none) for operations without input, such as Logout.
  if (body.trim() === "") return {};
  const value: unknown = JSON.parse(body);
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new Error("the body must be a JSON object");
  return value;
}

/**
 * Makes an encapsulated Fastify context speak rest-json the way the AWS SDKs expect: JSON bodies
 * whatever the JSON content type, and every error (bad JSON, unknown route, a bug) as an error
 * shape the SDKs parse, never the portal's HTML error page.
 */
export function jsonApi(app: FastifyInstance, service: "oidc" | "portal", log: Logger): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, parseJson(body as string));
    } catch (err) {
      done(
        SsoApiError[service](
          "InvalidRequestException",
          `The request body is not valid JSON: ${(err as Error).message}`,
        ),
        undefined,
      );
    }
  });
  const invalid = (message: string) =>
    service === "oidc"
      ? SsoApiError.oidc("InvalidRequestException", message)
      : SsoApiError.portal("InvalidRequestException", message);
  app.setErrorHandler(async (err: Error & { statusCode?: number }, _req, reply) => {
    let apiError: SsoApiError;
    if (err instanceof SsoApiError) apiError = err;
    else if (err.statusCode && err.statusCode < 500) apiError = invalid(err.message);
    else {
      log.error({ err: err.message }, "SSO API error");
      apiError = SsoApiError[service]("InternalServerException", "Internal error");
    }
    const { statusCode, headers, body } = errorResponse(apiError);
    return reply.code(statusCode).headers(headers).type("application/json").send(body);
  });
  app.setNotFoundHandler(async (req, reply) => {
    const { statusCode, headers, body } = errorResponse(
      invalid(`No operation at ${req.method} ${req.url}`),
    );
    return reply.code(statusCode).headers(headers).type("application/json").send(body);
  });
}
