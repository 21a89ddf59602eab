import { describe, expect, it } from "vitest";
import { ScimError } from "./errors.ts";
import { applyPatch, patchOperations } from "./patch.ts";
import { GROUP_TARGET, USER_TARGET } from "./resources.ts";
import { ENTERPRISE_SCHEMA, PATCH_SCHEMA, USER_SCHEMA } from "./schemas.ts";

const user = () => ({
  schemas: [USER_SCHEMA],
  id: "u1",
  userName: "alice",
  name: { givenName: "Alice", familyName: "Liddell" },
  active: true,
  emails: [{ value: "alice@example.com", type: "work", primary: true }],
});
const group = (n: number) => ({
  id: "g1",
  displayName: "admins",
  members: Array.from({ length: n }, (_, i) => ({ value: `u${String(i)}` })),
});
const patchUser = (ops: unknown[]) =>
  applyPatch(user(), patchOperations({ schemas: [PATCH_SCHEMA], Operations: ops }), USER_TARGET);
const patchGroup = (n: number, ops: unknown[]) =>
  applyPatch(group(n), patchOperations({ schemas: [PATCH_SCHEMA], Operations: ops }), GROUP_TARGET);

describe("SCIM PATCH", () => {
  it("takes Entra ID's capitalised ops and no-path value objects with dotted keys", () => {
    const out = patchUser([
      {
        op: "Replace",
        value: { displayName: "Alice L.", "name.givenName": "Al", active: "False" },
      },
    ]);
    expect(out).toMatchObject({
      displayName: "Alice L.",
      name: { givenName: "Al", familyName: "Liddell" },
      active: "False",
    });
  });

  it("replaces a path, adds an extension attribute, removes an attribute", () => {
    const out = patchUser([
      { op: "replace", path: "active", value: false },
      { op: "add", path: `${ENTERPRISE_SCHEMA}:department`, value: "R&D" },
      { op: "add", path: `${ENTERPRISE_SCHEMA}:manager.value`, value: "u9" },
      { op: "remove", path: "name.familyName" },
    ]);
    expect(out.active).toBe(false);
    expect(out[ENTERPRISE_SCHEMA]).toEqual({ department: "R&D", manager: { value: "u9" } });
    expect(out.schemas).toContain(ENTERPRISE_SCHEMA);
    expect(out.name).toEqual({ givenName: "Alice" });
  });

  it('sets emails[type eq "work"].value, adding the element when there is none', () => {
    expect(
      patchUser([{ op: "replace", path: 'emails[type eq "work"].value', value: "a@new.example" }])
        .emails,
    ).toEqual([{ value: "a@new.example", type: "work", primary: true }]);
    expect(
      patchUser([{ op: "add", path: 'emails[type eq "home"].value', value: "a@home.example" }])
        .emails,
    ).toEqual([
      { value: "alice@example.com", type: "work", primary: true },
      { type: "home", value: "a@home.example" },
    ]);
  });

  it("adds members without repeating those already in", () => {
    const out = patchGroup(2, [
      { op: "add", path: "members", value: [{ value: "u1" }, { value: "u7" }] },
    ]);
    expect(out.members).toEqual([{ value: "u0" }, { value: "u1" }, { value: "u7" }]);
  });

  it("removes only the listed members for path members with a value (Entra ID), all without one", () => {
    expect(
      patchGroup(3, [{ op: "Remove", path: "members", value: [{ value: "u1" }] }]).members,
    ).toEqual([{ value: "u0" }, { value: "u2" }]);
    expect(patchGroup(3, [{ op: "remove", path: "members" }]).members).toBeUndefined();
  });

  it('removes members[value eq "id"] (Okta)', () => {
    expect(patchGroup(3, [{ op: "remove", path: 'members[value eq "u2"]' }]).members).toEqual([
      { value: "u0" },
      { value: "u1" },
    ]);
  });

  it("changes thousands of members in one PATCH", () => {
    const add = Array.from({ length: 5000 }, (_, i) => ({ value: `n${String(i)}` }));
    const remove = Array.from({ length: 5000 }, (_, i) => ({ value: `u${String(i)}` }));
    const out = patchGroup(5000, [
      { op: "add", path: "members", value: add },
      { op: "remove", path: "members", value: remove },
    ]);
    expect(out.members).toEqual(add);
  });

  it("ignores read-only attributes and refuses bad operations with SCIM errors", () => {
    expect(patchUser([{ op: "replace", path: "id", value: "other" }]).id).toBe("u1");
    const refused = (ops: unknown) => {
      try {
        applyPatch(user(), patchOperations(ops), USER_TARGET);
      } catch (err) {
        return (err as ScimError).scimType;
      }
      return "accepted";
    };
    expect(refused({ Operations: [{ op: "move", path: "x" }] })).toBe("invalidSyntax");
    expect(refused({ Operations: [] })).toBe("invalidSyntax");
    expect(refused({ Operations: [{ op: "remove" }] })).toBe("noTarget");
    expect(refused({ Operations: [{ op: "replace", path: "userName[x eq 1]", value: "a" }] })).toBe(
      "invalidPath",
    );
    expect(
      refused({
        Operations: [{ op: "replace", path: 'emails[value co "none"]', value: { type: "x" } }],
      }),
    ).toBe("noTarget");
  });
});
