import fp from "fastify-plugin";

/** An error whose status code and message are meant for the person at the browser. */
export class HttpError extends Error {
  readonly statusCode: number;
  /** Response headers that go with the page, such as Retry-After on a 503. */
  readonly headers: Readonly<Record<string, string>>;
  constructor(statusCode: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = "HttpError";
    this.statusCode = statusCode;
    this.headers = headers;
  }
}

export function httpError(
  statusCode: number,
  message: string,
  headers: Record<string, string> = {},
): HttpError {
  return new HttpError(statusCode, message, headers);
}

/** The messages the portal answers with in more than one place. */
export const MESSAGES = {
  csrf: "The form expired or was not sent by this portal. Go back and try again.",
  notAForm: "This page takes a form from the portal's own pages. Go back and try again.",
  signInFirst: "Sign in first.",
} as const;

type PortalError = {
  statusCode?: number;
  message: string;
  code?: string;
  validation?: unknown;
  /** Headers the client needs with the page, such as a 429's Retry-After. */
  headers?: Record<string, string>;
};

/** What the page says: fastify's own messages about a bad request name its parts, not the form. */
function messageFor(err: PortalError, status: number): string {
  // Our own 5xx (busy, instance missing) say what is going on; anything else stays vague.
  if (status >= 500 && !(err instanceof HttpError)) return "Something went wrong.";
  // A body or query string that is missing, not an object of strings, or of a content type no
  // parser takes (schema validation, fastify's content-type parser errors).
  if (err.validation !== undefined || err.code?.startsWith("FST_ERR_CTP_"))
    return MESSAGES.notAForm;
  return err.message;
}

/**
 * Every error becomes an HTML error page: a 4xx shows its message, a 5xx only "Something went
 * wrong." (the details go to the log, never to the browser).
 */
export const errorPages = fp(
  (app, _options, done) => {
    app.setErrorHandler(async (err: PortalError, _req, reply) => {
      const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
      // Our own 5xx (busy, instance missing) are expected answers, not faults to log.
      if (status >= 500 && !(err instanceof HttpError))
        app.log.error({ err: err.message }, "portal error");
      // Headers only from errors meant for the client (a 429's or a busy 503's Retry-After).
      if (err.headers && (status < 500 || err instanceof HttpError))
        void reply.headers(err.headers);
      return reply.code(status).page("error", { status, message: messageFor(err, status) });
    });
    done();
  },
  { name: "portal-error-pages", fastify: "5.x", dependencies: ["portal-views"] },
);
