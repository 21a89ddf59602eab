import { describe, expect, it } from "vitest";
import {
  USER_SOURCE_PATTERN,
  type Application,
  type ApplicationAssignment,
  type Group,
  type User,
} from "../api/v1alpha1/index.ts";
import {
  accessibleApplications,
  ApplicationSignInError,
  applicationResponseInput,
  userValue,
} from "./applications.ts";

const user = (userName: string, extra: Partial<User["spec"]> = {}): User =>
  ({
    metadata: { name: userName, uid: `uid-${userName}` },
    spec: { userName, email: `${userName}@example.com`, active: true, ...extra },
  }) as User;

const app = (name: string, spec: Partial<Application["spec"]> = {}): Application =>
  ({
    metadata: { name },
    spec: {
      displayName: name.toUpperCase(),
      entityId: `urn:${name}`,
      acsUrl: `https://${name}.example.com/acs`,
      nameId: { format: "emailAddress", source: "email" },
      signing: { assertion: true, response: false },
      ...spec,
    },
  }) as Application;

const assignment = (
  name: string,
  principal: ApplicationAssignment["spec"]["principal"],
  application: string,
  deleting = false,
): ApplicationAssignment =>
  ({
    metadata: { name, ...(deleting ? { deletionTimestamp: new Date() } : {}) },
    spec: { principal, application },
  }) as ApplicationAssignment;

describe("accessibleApplications", () => {
  it("joins the user's and their groups' assignments, sorted, skipping deleted ones", () => {
    const result = accessibleApplications({
      user: user("alice"),
      groups: [{ metadata: { name: "eng" } } as Group],
      applications: [app("wiki"), app("crm"), app("payroll"), app("jira")],
      assignments: [
        assignment("a", { kind: "Group", name: "eng" }, "wiki"),
        assignment("b", { kind: "User", name: "alice" }, "payroll"),
        assignment("c", { kind: "User", name: "bob" }, "crm"),
        assignment("d", { kind: "Group", name: "ops" }, "crm"),
        assignment("e", { kind: "User", name: "alice" }, "jira", true),
      ],
    });
    expect(result.map((a) => a.metadata.name)).toEqual(["payroll", "wiki"]);
  });
});

describe("applicationResponseInput", () => {
  const options = { issuer: "https://sso/saml/metadata", now: new Date(0), transientId: "_t" };

  it("maps NameID and attributes, leaving out values the user lacks", () => {
    const input = applicationResponseInput(
      app("wiki", {
        nameId: { format: "persistent", source: "id" },
        attributeMappings: [
          { name: "dept", source: "attributes.department" },
          { name: "missing", source: "attributes.nope" },
          { name: "tier", value: "gold", nameFormat: "basic" },
        ],
        sessionDuration: "PT1H",
      }),
      user("alice", { attributes: { department: "R&D" } }),
      options,
    );
    expect(input).toMatchObject({
      destination: "https://wiki.example.com/acs",
      audience: "urn:wiki",
      nameId: "uid-alice",
      nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
      sessionNotOnOrAfter: new Date(3_600_000),
    });
    expect(input.attributes.map((a) => [a.name, a.values[0], a.nameFormat])).toEqual([
      ["dept", "R&D", "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"],
      ["tier", "gold", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"],
    ]);
  });

  it("sends givenName and familyName, which live under spec.name (mappings of them sent nothing)", () => {
    const input = applicationResponseInput(
      app("hr", {
        nameId: { format: "unspecified", source: "familyName" },
        attributeMappings: [
          { name: "first", source: "givenName" },
          { name: "last", source: "familyName" },
          { name: "userName", source: "userName" },
        ],
      }),
      user("alice", { name: { givenName: "Alice", familyName: "Liddell" } }),
      options,
    );
    expect(input.nameId).toBe("Liddell");
    expect(input.attributes.map((a) => [a.name, a.values[0]])).toEqual([
      ["first", "Alice"],
      ["last", "Liddell"],
      ["userName", "alice"],
    ]);
  });

  it("has a value for every user field the API lets a mapping name", () => {
    const fields = /^\^\(([^)]*?)\|attributes/.exec(USER_SOURCE_PATTERN)?.[1]?.split("|") ?? [];
    expect(fields).toEqual(expect.arrayContaining(["userName", "givenName", "familyName", "id"]));
    const full = user("alice", {
      displayName: "Alice L.",
      name: { givenName: "Alice", familyName: "Liddell" },
    });
    for (const field of fields) expect(userValue(full, field), field).toBeTruthy();
  });

  it("uses a fresh id for transient NameIDs and refuses a NameID the user has no value for", () => {
    const transient = app("t", { nameId: { format: "transient", source: "email" } });
    expect(applicationResponseInput(transient, user("alice"), options).nameId).toBe("_t");
    const byName = app("n", { nameId: { format: "unspecified", source: "givenName" } });
    expect(() => applicationResponseInput(byName, user("alice"), options)).toThrow(
      ApplicationSignInError,
    );
  });
});
