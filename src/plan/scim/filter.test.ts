import { describe, expect, it } from "vitest";
import { ScimError } from "./errors.ts";
import { matches, parseFilter, parsePatchPath, requiredEquality } from "./filter.ts";
import { ENTERPRISE_SCHEMA, KNOWN_SCHEMAS, USER_SCHEMA } from "./schemas.ts";

const alice = {
  schemas: [USER_SCHEMA, ENTERPRISE_SCHEMA],
  id: "6f1c",
  externalId: "AbC-1",
  userName: "Alice@Example.com",
  displayName: "Alice Liddell",
  active: true,
  emails: [
    { value: "alice@example.com", type: "work", primary: true },
    { value: "alice@home.example", type: "home" },
  ],
  [ENTERPRISE_SCHEMA]: { department: "R&D" },
  meta: { lastModified: "2026-01-02T03:04:05.000Z" },
};

const match = (filter: string) => matches(alice, parseFilter(filter, KNOWN_SCHEMAS), USER_SCHEMA);

describe("SCIM filters", () => {
  it.each([
    ['userName eq "alice@example.com"', true], // caseExact false: ignores case
    ['USERNAME Eq "ALICE@EXAMPLE.COM"', true], // names and operators ignore case too
    ['userName eq "bob"', false],
    ['externalId eq "AbC-1"', true],
    ['externalId eq "abc-1"', false], // externalId is caseExact
    ['emails co "home.example"', true], // a complex multi-valued attribute compares its value
    ['emails.value sw "alice@"', true],
    ['emails[type eq "work" and value ew "example.com"]', true],
    ['emails[type eq "other"]', false],
    ["displayName pr", true],
    ["title pr", false],
    ['displayName sw "Alice" and active eq true', true],
    ['displayName sw "Bob" or active eq true', true],
    ["not (active eq true)", false],
    ['userName eq "x" or userName eq "y" and active eq true', false],
    [`${USER_SCHEMA}:userName eq "alice@example.com"`, true],
    [`${ENTERPRISE_SCHEMA}:department eq "r&d"`, true],
    ['meta.lastModified gt "2026-01-01T00:00:00Z"', true],
    ['displayName eq "say \\"hi\\""', false],
  ])("%s -> %s", (filter, expected) => {
    expect(match(filter)).toBe(expected);
  });

  it.each([
    "userName eq",
    'userName xx "a"',
    '(userName eq "a"',
    'userName eq "a" junk',
    'userName eq "a',
  ])("refuses %s with invalidFilter", (filter) => {
    expect(() => parseFilter(filter, KNOWN_SCHEMAS)).toThrow(ScimError);
    try {
      parseFilter(filter, KNOWN_SCHEMAS);
    } catch (err) {
      expect((err as ScimError).scimType).toBe("invalidFilter");
      expect((err as ScimError).status).toBe(400);
    }
  });

  it("finds the equality a lookup can index", () => {
    expect(
      requiredEquality(parseFilter('userName eq "A" and active eq true', KNOWN_SCHEMAS)),
    ).toEqual({
      attr: "username",
      value: "A",
    });
    expect(
      requiredEquality(parseFilter('userName eq "A" or userName eq "B"', KNOWN_SCHEMAS)),
    ).toBeUndefined();
  });

  it("parses the PATCH paths provisioning clients send", () => {
    expect(parsePatchPath('members[value eq "2819c223"]', KNOWN_SCHEMAS)).toMatchObject({
      attr: { names: ["members"] },
      filter: { op: "eq", path: { names: ["value"] }, value: "2819c223" },
    });
    expect(parsePatchPath('emails[type eq "work"].value', KNOWN_SCHEMAS)).toMatchObject({
      attr: { names: ["emails"] },
      subAttr: "value",
    });
    expect(parsePatchPath(`${ENTERPRISE_SCHEMA}:manager.value`, KNOWN_SCHEMAS)).toEqual({
      attr: { schema: ENTERPRISE_SCHEMA, names: ["manager", "value"] },
    });
    expect(() => parsePatchPath("members[value eq", KNOWN_SCHEMAS)).toThrow(/invalid|unbalanced/);
  });
});
