/** RFC 7644 3.12: the error response's schema. */
export const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";

/** The scimType values of RFC 7644 3.12 (Table 9) that this service uses. */
export type ScimType =
  | "invalidFilter"
  | "tooMany"
  | "uniqueness"
  | "mutability"
  | "invalidSyntax"
  | "invalidPath"
  | "noTarget"
  | "invalidValue"
  | "invalidVers";

/** A request the service refuses, with the HTTP status and scimType it answers with. */
export class ScimError extends Error {
  readonly status: number;
  readonly detail: string;
  readonly scimType: ScimType | undefined;

  constructor(status: number, detail: string, scimType?: ScimType) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.scimType = scimType;
  }

  /** The error as a SCIM response body (status is a string, as RFC 7644 3.12 writes it). */
  body() {
    return {
      schemas: [ERROR_SCHEMA],
      status: String(this.status),
      ...(this.scimType ? { scimType: this.scimType } : {}),
      detail: this.detail,
    };
  }
}
