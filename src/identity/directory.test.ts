import { describe, expect, it } from "vitest";
import type { User } from "../api/v1alpha1/index.ts";
import { group, inactive, user, withEmail, withUserName } from "../testing/gen.ts";
import { isValidUser, resolveGroup, userValidity } from "./directory.ts";
import { DirectoryIndex } from "./directory-index.ts";

function indexOf(users: User[]): DirectoryIndex {
  const index = new DirectoryIndex();
  for (const u of users) index.updateUser(undefined, u);
  return index;
}

describe("userValidity", () => {
  it.each([
    {
      name: "a unique user is Ready",
      users: [user("alice"), user("bob")],
      check: "alice",
      reason: "Valid",
      status: "True",
    },
    {
      name: "an inactive user is still valid",
      users: [user("dave", inactive)],
      check: "dave",
      reason: "Inactive",
      status: "True",
    },
    {
      name: "a shared userName flags the user",
      users: [user("alice"), user("alice2", withUserName("alice"))],
      check: "alice",
      reason: "Duplicate",
      status: "False",
      message: /userName "alice" is also used by User "alice2"/,
    },
    {
      name: "the other side of the clash is flagged too",
      users: [user("alice"), user("alice2", withUserName("alice"))],
      check: "alice2",
      reason: "Duplicate",
      status: "False",
      message: /is also used by User "alice"/,
    },
    {
      name: "userNames compare case-insensitively (no look-alike of another user)",
      users: [user("alice"), user("shadow", withUserName("ALICE"))],
      check: "shadow",
      reason: "Duplicate",
      status: "False",
      message:
        /userName "ALICE" is also used by User "alice" \(userNames and emails are compared ignoring case\)/,
    },
    {
      name: "emails compare case-insensitively",
      users: [user("alice"), user("al", withEmail("ALICE@Example.com"))],
      check: "al",
      reason: "Duplicate",
      status: "False",
      message: /email "ALICE@Example.com" is also used by User "alice"/,
    },
  ])("$name", ({ users, check, reason, status, message }) => {
    const index = indexOf(users);
    const target = users.find((u) => u.metadata.name === check);
    if (!target) throw new Error("bad table row");
    const condition = userValidity(target, index);
    expect(condition).toMatchObject({ type: "Ready", reason, status });
    if (message) expect(condition.message).toMatch(message);
  });

  it("clears the clash once the other user changes its userName", () => {
    const a = user("alice");
    const b = user("alice2", withUserName("alice"));
    const index = indexOf([a, b]);
    expect(isValidUser(a, index)).toBe(false);
    const fixed = user("alice2", withUserName("alice.two"));
    index.updateUser(b, fixed);
    expect(isValidUser(a, index)).toBe(true);
    expect(isValidUser(fixed, index)).toBe(true);
  });

  it("clears the clash once the other user is deleted", () => {
    const a = user("alice");
    const b = user("alice2", withUserName("alice"));
    const index = indexOf([a, b]);
    index.updateUser(b, undefined);
    expect(userValidity(a, index).reason).toBe("Valid");
  });
});

describe("resolveGroup", () => {
  const users = [user("alice"), user("bob"), user("eve"), user("eve2", withUserName("eve"))];
  const index = indexOf(users);
  const byName = new Map(users.map((u) => [u.metadata.name, u]));
  const valid = (name: string) => {
    const u = byName.get(name);
    return u !== undefined && isValidUser(u, index);
  };

  it.each([
    { members: ["alice", "bob"], count: 2, unknown: [], reason: "Resolved" },
    { members: [], count: 0, unknown: [], reason: "Resolved" },
    {
      members: ["alice", "zed", "yan"],
      count: 1,
      unknown: ["yan", "zed"],
      reason: "UnknownMembers",
    },
    { members: ["Alice", "BOB"], count: 2, unknown: [], reason: "Resolved" },
    // A clashing userName is treated as absent.
    { members: ["eve", "bob"], count: 1, unknown: ["eve"], reason: "UnknownMembers" },
  ])(
    "members $members -> $count known, unknown $unknown",
    ({ members, count, unknown, reason }) => {
      const result = resolveGroup(group("g", members), index, valid);
      expect(result.members).toBe(count);
      expect(result.unknownMembers).toEqual(unknown);
      expect(result.condition.reason).toBe(reason);
    },
  );

  it("indexes groups by member for mapped triggers", () => {
    const idx = new DirectoryIndex();
    const g1 = group("g1", ["alice", "bob"]);
    idx.updateGroup(undefined, g1);
    expect([...idx.groupsWithMember("alice")]).toEqual(["g1"]);
    expect([...idx.groupsWithMember("ALICE")]).toEqual(["g1"]);
    idx.updateGroup(g1, group("g1", ["bob"]));
    expect([...idx.groupsWithMember("alice")]).toEqual([]);
    expect([...idx.groupsWithMember("bob")]).toEqual(["g1"]);
  });
});
