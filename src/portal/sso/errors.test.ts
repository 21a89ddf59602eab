import { describe, expect, it } from "vitest";
import { errorResponse, oauthErrorName, SsoApiError } from "./errors.ts";

describe("SSO API errors", () => {
  it("names the code in x-amzn-ErrorType, where botocore and the JS SDK read it", () => {
    const r = errorResponse(
      SsoApiError.oidc("AuthorizationPendingException", "Authorization is still pending"),
    );
    expect(r.statusCode).toBe(400);
    expect(r.headers["x-amzn-errortype"]?.split(":")[0]).toBe("AuthorizationPendingException");
    expect(r.body).toEqual({
      error: "authorization_pending",
      error_description: "Authorization is still pending",
      message: "Authorization is still pending",
    });
  });

  it.each([
    ["InvalidClientException", 401],
    ["SlowDownException", 400],
    ["ExpiredTokenException", 400],
    ["InternalServerException", 500],
  ] as const)("sends %s with HTTP %i", (code, status) => {
    expect(errorResponse(SsoApiError.oidc(code, "x")).statusCode).toBe(status);
  });

  it("gives portal errors a message body and their modelled status", () => {
    const r = errorResponse(SsoApiError.portal("UnauthorizedException", "Session token not found"));
    expect(r.statusCode).toBe(401);
    expect(r.body).toEqual({ message: "Session token not found" });
    expect(errorResponse(SsoApiError.portal("ForbiddenException", "No access")).statusCode).toBe(
      403,
    );
  });

  it.each([
    ["SlowDownException", "slow_down"],
    ["InvalidGrantException", "invalid_grant"],
    ["UnsupportedGrantTypeException", "unsupported_grant_type"],
  ])("maps %s to the OAuth error %s", (code, name) => {
    expect(oauthErrorName(code)).toBe(name);
  });
});
