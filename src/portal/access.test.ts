import { describe, expect, it } from "vitest";
import type { Account } from "../api/v1alpha1/index.ts";
import { account, assignment, group, permissionSet, user } from "../testing/gen.ts";
import { accessibleAccounts, findRole } from "./access.ts";

function provisioned(a: Account, ...permissionSets: string[]): Account {
  a.status = {
    samlProviderArn: `arn:aws:iam::${a.spec.accountId}:saml-provider/IdentityCenterOperator_default`,
    roles: permissionSets.map((ps) => ({
      permissionSet: ps,
      roleName: `IdC_${ps}`,
      roleArn: `arn:aws:iam::${a.spec.accountId}:role/identitycenter/IdC_${ps}`,
      state: "Provisioned" as const,
    })),
  };
  return a;
}

const alice = user("alice");
const admins = group("admins", ["alice"]);
const prod = provisioned(
  account("production", "111111111111", { ou: "workloads" }),
  "admin",
  "read-only",
);
prod.spec.displayName = "Production";
const staging = provisioned(account("staging", "222222222222", { ou: "workloads" }), "read-only");
staging.spec.displayName = "Staging";
const security = provisioned(account("security", "333333333333"), "admin");
security.spec.displayName = "Security";
const permissionSets = [
  permissionSet("admin", (p) => (p.spec.name = "AdministratorAccess")),
  permissionSet("read-only", (p) => (p.spec.name = "ReadOnlyAccess")),
];

function userAssignment(name: string, ps: string, accounts: string[]) {
  const a = assignment(name, ps, { accounts });
  a.spec.principal = { kind: "User", name: "alice" };
  return a;
}

describe("accessibleAccounts", () => {
  const accounts = [security, staging, prod];

  it("combines direct and group assignments, sorted by account name, Provisioned roles only", () => {
    const access = accessibleAccounts({
      user: alice,
      groups: [admins],
      accounts,
      permissionSets,
      assignments: [
        assignment("group-ro", "read-only", {
          accountSelector: { matchLabels: { ou: "workloads" } },
        }),
        userAssignment("direct-admin", "admin", ["production"]),
      ],
    });
    expect(access.map((a) => [a.displayName, a.roles.map((r) => r.name)])).toEqual([
      ["Production", ["AdministratorAccess", "ReadOnlyAccess"]],
      ["Staging", ["ReadOnlyAccess"]],
    ]);
    expect(findRole(access, "production", "admin")?.roleArn).toBe(
      "arn:aws:iam::111111111111:role/identitycenter/IdC_admin",
    );
  });

  it("loses a group's access as soon as the user is not in the group", () => {
    const input = {
      user: alice,
      accounts,
      permissionSets,
      assignments: [assignment("g", "admin", { accounts: ["security"] })],
    };
    expect(accessibleAccounts({ ...input, groups: [admins] })).toHaveLength(1);
    expect(accessibleAccounts({ ...input, groups: [] })).toEqual([]);
  });

  it("hides roles that are not Provisioned and assignments of other users", () => {
    const pending = provisioned(account("pending", "444444444444"), "admin");
    const row = pending.status?.roles?.[0];
    if (row) row.state = "Pending";
    const bob = userAssignment("bob-admin", "admin", ["security"]);
    bob.spec.principal = { kind: "User", name: "bob" };
    const access = accessibleAccounts({
      user: alice,
      groups: [],
      accounts: [pending, security],
      permissionSets,
      assignments: [userAssignment("a", "admin", ["pending"]), bob],
    });
    expect(access).toEqual([]);
    expect(findRole(access, "security", "admin")).toBeUndefined();
  });
});
