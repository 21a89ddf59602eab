import { describe, expect, it } from "vitest";
import type { Group, User } from "../api/v1alpha1/index.ts";
import { MANAGED_BY_IDENTITY_SOURCE, MANAGED_BY_SOURCE_LABEL } from "../api/v1alpha1/labels.ts";
import { group, inactive, user, withEmail, withUserName } from "../testing/gen.ts";
import { DirectoryIndex } from "./directory-index.ts";
import {
  amrIsMultiFactor,
  decideUpstreamSignIn,
  federatedSessionEnd,
  identitySourceUserObjectName,
  type UpstreamIdentity,
  type UpstreamPolicy,
} from "./upstream-identity.ts";

const owned = (g: Group) => {
  g.metadata.labels = { [MANAGED_BY_SOURCE_LABEL]: MANAGED_BY_IDENTITY_SOURCE };
};

function directory(users: User[], groups: Group[] = []) {
  const index = new DirectoryIndex();
  for (const u of users) index.updateUser(undefined, u);
  for (const g of groups) index.updateGroup(undefined, g);
  return {
    index,
    user: (name: string) => users.find((u) => u.metadata.name === name),
    group: (name: string) => groups.find((g) => g.metadata.name === name),
  };
}

const identity = (over: Partial<UpstreamIdentity> = {}): UpstreamIdentity => ({
  subject: "sub-1",
  userName: "alice",
  email: "alice@example.com",
  groups: undefined,
  mfa: false,
  expiresAt: 10_000,
  ...over,
});

const closed: UpstreamPolicy = { jitProvisioning: false };
const jit: UpstreamPolicy = { jitProvisioning: true };

describe("decideUpstreamSignIn: who the upstream user is here", () => {
  it.each([
    {
      name: "matches a User by userName ignoring case, with the User's spelling",
      users: [user("alice", withUserName("Alice"))],
      id: identity({ userName: "ALICE" }),
      policy: closed,
      expected: { outcome: "sign-in", userName: "Alice" },
    },
    {
      name: "refuses an unknown user without JIT",
      users: [user("bob")],
      id: identity(),
      policy: closed,
      expected: { outcome: "refused", reason: "unknown-user" },
    },
    {
      name: "refuses a deactivated User even with JIT (no reactivation by signing in again)",
      users: [user("alice", inactive)],
      id: identity(),
      policy: jit,
      expected: { outcome: "refused", reason: "inactive-user" },
    },
    {
      name: "refuses when two Users share the userName",
      users: [user("a1", withUserName("alice")), user("a2", withUserName("ALICE"))],
      id: identity(),
      policy: jit,
      expected: { outcome: "refused", reason: "duplicate-user" },
    },
    {
      name: "refuses a User whose email clashes with another's",
      users: [user("alice"), user("eve", withEmail("alice@example.com"))],
      id: identity(),
      policy: closed,
      expected: { outcome: "refused", reason: "duplicate-user" },
    },
    {
      name: "refuses an upstream that sends no userName",
      users: [user("alice")],
      id: identity({ userName: undefined }),
      policy: jit,
      expected: { outcome: "refused", reason: "no-user-name" },
    },
    {
      name: "refuses a userName with whitespace inside (it could never be a User)",
      users: [],
      id: identity({ userName: "alice smith" }),
      policy: jit,
      expected: { outcome: "refused", reason: "no-user-name" },
    },
    {
      name: "refuses to create a user without an email",
      users: [],
      id: identity({ email: undefined }),
      policy: jit,
      expected: { outcome: "refused", reason: "no-email" },
    },
    {
      name: "refuses to create a user whose email another User has (taking over their mail)",
      users: [user("bob", withEmail("Alice@Example.com"))],
      id: identity(),
      policy: jit,
      expected: { outcome: "refused", reason: "email-taken" },
    },
  ])("$name", ({ users, id, policy, expected }) => {
    expect(decideUpstreamSignIn(id, policy, directory(users))).toMatchObject(expected);
  });

  it("creates a User owned by the identity source when JIT is on", () => {
    const decision = decideUpstreamSignIn(
      identity({ userName: "Carol@Example.com", email: "carol@example.com", displayName: "Carol" }),
      jit,
      directory([]),
    );
    expect(decision).toMatchObject({ outcome: "sign-in", userName: "Carol@Example.com" });
    if (decision.outcome !== "sign-in") throw new Error("refused");
    expect(decision.create?.metadata.labels).toEqual({
      [MANAGED_BY_SOURCE_LABEL]: MANAGED_BY_IDENTITY_SOURCE,
    });
    expect(decision.create?.spec).toEqual({
      userName: "Carol@Example.com",
      email: "carol@example.com",
      active: true,
      displayName: "Carol",
    });
    expect(decision.create?.metadata.name).toMatch(/^carol-example.com-[0-9a-f]{10}$/);
  });
});

describe("identitySourceUserObjectName", () => {
  it("is a DNS name, the same for names that differ only in case, different otherwise", () => {
    const names = ["Ünïcode user", "alice@example.com", "---", "a".repeat(300)];
    for (const n of names) {
      const name = identitySourceUserObjectName(n);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      expect(name.length).toBeLessThanOrEqual(253);
    }
    expect(identitySourceUserObjectName("Alice")).toBe(identitySourceUserObjectName("alice"));
    expect(identitySourceUserObjectName("a.b")).not.toBe(identitySourceUserObjectName("a-b"));
  });
});

describe("decideUpstreamSignIn: group claims", () => {
  const mapping: UpstreamPolicy = {
    jitProvisioning: false,
    groupMapping: { sameName: true, mappings: [{ upstream: "Eng Team", group: "engineering" }] },
  };
  const users = [user("alice")];

  it("joins mapped and same-name Groups, creating missing ones, and leaves stale owned ones", () => {
    const groups = [group("engineering", [], owned), group("old-team", ["alice"], owned)];
    const decision = decideUpstreamSignIn(
      identity({ groups: ["Eng Team", "ops", "Not A DNS Name"] }),
      mapping,
      directory(users, groups),
    );
    expect(decision).toMatchObject({
      outcome: "sign-in",
      groups: {
        join: [
          { group: "engineering", create: false, displayName: "Eng Team" },
          { group: "ops", create: true, displayName: "ops" },
        ],
        leave: ["old-team"],
        skipped: [],
      },
    });
  });

  it("never changes a Group GitOps or SCIM owns (a claim cannot edit declared membership)", () => {
    const scim = (g: Group) => {
      g.metadata.labels = { [MANAGED_BY_SOURCE_LABEL]: "scim" };
    };
    const groups = [group("admins", []), group("ops", [], scim), group("declared", ["alice"])];
    const decision = decideUpstreamSignIn(
      identity({ groups: ["admins", "ops"] }),
      mapping,
      directory(users, groups),
    );
    expect(decision).toMatchObject({
      groups: { join: [], leave: [], skipped: ["admins", "ops"] },
    });
  });

  it("changes nothing when the upstream says nothing about groups", () => {
    const groups = [group("old-team", ["alice"], owned)];
    const decision = decideUpstreamSignIn(
      identity({ groups: undefined }),
      mapping,
      directory(users, groups),
    );
    expect(decision).toMatchObject({ groups: { join: [], leave: [], skipped: [] } });
  });

  it("changes nothing without a groupMapping", () => {
    const decision = decideUpstreamSignIn(
      identity({ groups: ["ops"] }),
      closed,
      directory(users, [group("old", ["alice"], owned)]),
    );
    expect(decision).toMatchObject({ groups: { join: [], leave: [], skipped: [] } });
  });
});

describe("amrIsMultiFactor", () => {
  it.each([
    [["pwd", "mfa"], true],
    [["pwd", "otp"], true],
    [["hwk"], true],
    [["pwd"], false],
    [["swk"], false],
    [[], false],
    [undefined, false],
    ["mfa", false],
  ])("%j -> %s", (amr, expected) => {
    expect(amrIsMultiFactor(amr)).toBe(expected);
  });
});

describe("federatedSessionEnd", () => {
  it("never outlives the upstream's statement", () => {
    expect(federatedSessionEnd(identity({ expiresAt: 5_000 }), 1_000, 60_000)).toBe(5_000);
    expect(federatedSessionEnd(identity({ expiresAt: 500_000 }), 1_000, 60_000)).toBe(61_000);
  });
});
