import { describe, expect, it } from "vitest";
import type { Account, AccountAssignment, PermissionSet } from "../api/v1alpha1/index.ts";
import { AccountIdIndex, AssignmentIndex } from "../identity/assignment-index.ts";
import { account, assignment, group, permissionSet, user } from "../testing/gen.ts";
import {
  accessibleAccounts,
  accessibleAccountsWithId,
  authorizedRole,
  findRole,
  indexedAccessibleAccounts,
  type AccessSource,
} from "./access.ts";

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

/** An AccessSource over plain arrays, through the same indexes the portal keeps. */
function indexedSource(objects: {
  accounts: Account[];
  assignments: AccountAssignment[];
  permissionSets: PermissionSet[];
}): AccessSource {
  const byPrincipal = new AssignmentIndex();
  for (const a of objects.assignments) byPrincipal.update(undefined, a);
  const ids = new AccountIdIndex();
  for (const a of objects.accounts) ids.update(undefined, a);
  const accounts = new Map(objects.accounts.map((a) => [a.metadata.name, a]));
  const assignments = new Map(objects.assignments.map((a) => [a.metadata.name, a]));
  return {
    assignmentsOf: (userName, groups) =>
      [...byPrincipal.namesFor(userName, groups)].flatMap((n) => assignments.get(n) ?? []),
    account: (name) => accounts.get(name),
    accountsWithId: (id) => [...ids.namesWithId(id)].flatMap((n) => accounts.get(n) ?? []),
    accounts: () => accounts.values(),
    permissionSet: (name) => objects.permissionSets.find((p) => p.metadata.name === name),
  };
}

/** A small deterministic pseudo-random sequence, so a failure can be replayed. */
function random(seed: number) {
  let state = seed;
  return (n: number) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
}

describe("indexedAccessibleAccounts, authorizedRole and accessibleAccountsWithId (the portal's indexed access)", () => {
  it("give exactly the answers of the scan over every assignment, for random organisations", () => {
    let granted = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const pick = random(seed);
      const names = ["alice", "Bob", "carol", "dave"];
      const pss = ["admin", "read-only", "billing"].map((n) => permissionSet(n));
      const accounts = Array.from({ length: 6 }, (_, i) =>
        provisioned(
          account(`acct-${String(i)}`, `10000000000${String(i)}`, { ou: pick(2) ? "a" : "b" }),
          ...["admin", "read-only", "billing"].filter(() => pick(3) > 0),
        ),
      );
      // Two Account objects for one AWS account id, and one not reported provisioned at all.
      if (accounts[1]) accounts[1].spec.accountId = accounts[0]?.spec.accountId ?? "";
      if (accounts[5]) delete accounts[5].status;
      const groups = ["g0", "g1", "g2"].map((g) =>
        group(
          g,
          names.filter(() => pick(2) > 0),
        ),
      );
      const assignments = Array.from({ length: 12 }, (_, i) => {
        const ps = pss[pick(3)]?.metadata.name ?? "admin";
        const target = pick(3);
        const a = assignment(
          `as-${String(i)}`,
          ps,
          target === 0
            ? { accountSelector: { matchLabels: { ou: pick(2) ? "a" : "b" } } }
            : {
                accounts: [
                  target === 1
                    ? `acct-${String(pick(7))}`
                    : (accounts[pick(6)]?.spec.accountId ?? ""),
                ],
              },
        );
        a.spec.principal = pick(2)
          ? { kind: "Group", name: `g${String(pick(3))}` }
          : // userNames match ignoring case
            { kind: "User", name: (names[pick(4)] ?? "alice").toUpperCase() };
        if (pick(10) === 0) a.metadata.deletionTimestamp = new Date();
        return a;
      });
      const source = indexedSource({ accounts, assignments, permissionSets: pss });
      for (const name of names) {
        const u = user(name.toLowerCase());
        const mine = groups.filter((g) =>
          g.spec.members.some((m) => m.toLowerCase() === name.toLowerCase()),
        );
        const scanned = accessibleAccounts({
          user: u,
          groups: mine,
          assignments,
          accounts,
          permissionSets: pss,
        });
        expect(indexedAccessibleAccounts(source, u, mine)).toEqual(scanned);
        granted += scanned.length;
        for (const a of accounts)
          for (const ps of pss)
            expect(
              authorizedRole(
                source,
                { user: u, groups: mine },
                { account: a.metadata.name, permissionSet: ps.metadata.name },
              ),
            ).toEqual(findRole(scanned, a.metadata.name, ps.metadata.name));
        // The SSO API's per-account answer: the scan's rows of that AWS account id.
        for (const id of new Set(accounts.map((a) => a.spec.accountId)))
          expect(accessibleAccountsWithId(source, { user: u, groups: mine }, id)).toEqual(
            scanned.filter((row) => row.accountId === id),
          );
      }
    }
    // The organisations are not all empty: most users see some accounts.
    expect(granted).toBeGreaterThan(100);
  });

  it("forgets an assignment that moved to another principal or was deleted", () => {
    const index = new AssignmentIndex();
    const a = assignment("a", "admin", { accounts: ["production"] });
    a.spec.principal = { kind: "User", name: "alice" };
    index.update(undefined, a);
    expect([...index.namesFor("ALICE", [])]).toEqual(["a"]);
    const moved = structuredClone(a);
    moved.spec.principal = { kind: "Group", name: "admins" };
    index.update(a, moved);
    expect([...index.namesFor("alice", [])]).toEqual([]);
    expect([...index.namesFor("bob", ["admins"])]).toEqual(["a"]);
    index.update(moved, undefined);
    expect([...index.namesFor("bob", ["admins"])]).toEqual([]);
  });
});
