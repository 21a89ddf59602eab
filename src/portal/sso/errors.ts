/**
 * Errors of the SSO OIDC and SSO portal APIs, shaped the way the AWS SDKs read them: botocore
 * and the JavaScript SDK take the error code from the `x-amzn-ErrorType` header (never from the
 * OAuth `error` field), and show `message` (JS) or `error_description` (botocore) to the user.
 */
export type OidcErrorCode =
  | "AccessDeniedException"
  | "AuthorizationPendingException"
  | "ExpiredTokenException"
  | "InternalServerException"
  | "InvalidClientException"
  | "InvalidClientMetadataException"
  | "InvalidGrantException"
  | "InvalidRedirectUriException"
  | "InvalidRequestException"
  | "InvalidScopeException"
  | "SlowDownException"
  | "UnauthorizedClientException"
  | "UnsupportedGrantTypeException";

export type PortalErrorCode =
  | "ForbiddenException"
  | "InternalServerException"
  | "InvalidRequestException"
  | "ResourceNotFoundException"
  | "TooManyRequestsException"
  | "UnauthorizedException";

const OIDC_STATUS: Record<OidcErrorCode, number> = {
  AccessDeniedException: 400,
  AuthorizationPendingException: 400,
  ExpiredTokenException: 400,
  InternalServerException: 500,
  InvalidClientException: 401,
  InvalidClientMetadataException: 400,
  InvalidGrantException: 400,
  InvalidRedirectUriException: 400,
  InvalidRequestException: 400,
  InvalidScopeException: 400,
  SlowDownException: 400,
  UnauthorizedClientException: 400,
  UnsupportedGrantTypeException: 400,
};

const PORTAL_STATUS: Record<PortalErrorCode, number> = {
  ForbiddenException: 403,
  InternalServerException: 500,
  InvalidRequestException: 400,
  ResourceNotFoundException: 404,
  TooManyRequestsException: 429,
  UnauthorizedException: 401,
};

/** `AuthorizationPendingException` -> `authorization_pending`, the OAuth 2.0 error name. */
export function oauthErrorName(code: string): string {
  return code
    .replace(/Exception$/, "")
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase();
}

export class SsoApiError extends Error {
  readonly code: OidcErrorCode | PortalErrorCode;
  readonly statusCode: number;
  readonly service: "oidc" | "portal";

  private constructor(
    service: "oidc" | "portal",
    code: OidcErrorCode | PortalErrorCode,
    message: string,
  ) {
    super(message);
    this.service = service;
    this.code = code;
    this.statusCode =
      service === "oidc"
        ? OIDC_STATUS[code as OidcErrorCode]
        : PORTAL_STATUS[code as PortalErrorCode];
  }

  static oidc(code: OidcErrorCode, message: string): SsoApiError {
    return new SsoApiError("oidc", code, message);
  }

  static portal(code: PortalErrorCode, message: string): SsoApiError {
    return new SsoApiError("portal", code, message);
  }
}

const NAMESPACE = {
  oidc: "http://internal.amazon.com/coral/com.amazonaws.sso.oidc/",
  portal: "http://internal.amazon.com/coral/com.amazonaws.switchboard.portal/",
};

/** Header and body of an error response: what AWS sends, which both SDKs parse. */
export function errorResponse(err: SsoApiError): {
  statusCode: number;
  headers: Record<string, string>;
  body: Record<string, string>;
} {
  const body: Record<string, string> =
    err.service === "oidc"
      ? {
          error: oauthErrorName(err.code),
          error_description: err.message,
          message: err.message,
        }
      : { message: err.message };
  return {
    statusCode: err.statusCode,
    headers: { "x-amzn-errortype": `${err.code}:${NAMESPACE[err.service]}` },
    body,
  };
}
