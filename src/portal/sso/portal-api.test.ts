import { describe, expect, it } from "vitest";
import type { Account } from "../../api/v1alpha1/index.ts";
import { newRecord } from "../../identity/credentials.ts";
import { revokeGrant } from "./grants.ts";
import { account, assignment, group, permissionSet, user } from "../../testing/gen.ts";
import { fakePortal, identityCenter } from "../fake-portal.ts";
import { ssoContext } from "./index.ts";
import { portalApi } from "./portal-api.ts";
import { seal, ssoTokenKey } from "./tokens.ts";

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

/** Alice (in admins) with an access token of a live CLI sign-in, and an organisation. */
function portalWithAlice() {
  const now = Date.now();
  const clock = { now };
  const portal = fakePortal({ now: () => new Date(clock.now) });
  portal.addInstance(identityCenter());
  portal.addUser(user("alice"));
  const s = portal.stores;
  const admins = group("admins", ["alice"]);
  s.groups.informer.put(admins);
  portal.stores.directory.updateGroup(undefined, admins);
  for (const [name, displayName] of [
    ["admin", "AdministratorAccess"],
    ["read-only", "ReadOnlyAccess"],
  ] as const)
    s.permissionSets.informer.put(permissionSet(name, (p) => (p.spec.name = displayName)));
  // Two Account objects may name one AWS account; a role in either counts.
  const prod = provisioned(account("production", "111111111111", { ou: "workloads" }), "admin");
  const prodAgain = provisioned(account("production-eu", "111111111111"), "read-only");
  const staging = provisioned(account("staging", "222222222222", { ou: "workloads" }), "admin");
  const other = provisioned(account("security", "333333333333"), "admin");
  for (const a of [prod, prodAgain, staging, other]) s.accounts.informer.put(a);
  const direct = assignment("alice-ro", "read-only", { accounts: ["production-eu"] });
  direct.spec.principal = { kind: "User", name: "alice" };
  s.assignments.informer.put(direct);
  s.assignments.informer.put(
    assignment("admins-admin", "admin", { accountSelector: { matchLabels: { ou: "workloads" } } }),
  );
  const bobs = assignment("bob-admin", "admin", { accounts: ["security"] });
  bobs.spec.principal = { kind: "User", name: "bob" };
  s.assignments.informer.put(bobs);

  const grant = {
    id: "g1",
    clientId: "c1",
    clientName: "cli",
    createdAt: now,
    expiresAt: now + 3600_000,
  };
  portal.records.set("alice", { ...newRecord("alice", "uid-alice"), ssoGrants: [grant] });
  const token = seal(
    "access",
    { clientId: "c1", userName: "alice", grantId: "g1", expiresAt: now + 3600_000 },
    ssoTokenKey(portal.context.sessionKeys()[0]?.key ?? Buffer.alloc(0)),
  );
  const app = portal.app();
  void app.register(portalApi(ssoContext(portal.context)));
  const call = (method: "GET" | "POST", url: string) =>
    app.inject({ method, url, headers: { "x-amz-sso_bearer_token": token } }).then((r) => ({
      status: r.statusCode,
      body: r.body ? r.json<Record<string, unknown>>() : {},
    }));
  const get = (url: string) => call("GET", url);
  const reads = { count: 0 };
  const read = portal.deps.credentials.get.bind(portal.deps.credentials);
  portal.deps.credentials.get = (userName) => {
    reads.count++;
    return read(userName);
  };
  return { get, call, clock, portal, reads };
}

describe("the SSO portal API", () => {
  it("lists an account's roles from that account alone, the same as its rows in ListAccounts (two Account objects of one id merged)", async () => {
    const { get } = portalWithAlice();
    const accounts = await get("/assignment/accounts");
    expect(accounts.body.accountList).toEqual([
      { accountId: "111111111111", accountName: "production" },
      { accountId: "111111111111", accountName: "production-eu" },
      { accountId: "222222222222", accountName: "staging" },
    ]);
    expect((await get("/assignment/roles?account_id=111111111111")).body.roleList).toEqual([
      { roleName: "AdministratorAccess", accountId: "111111111111" },
      { roleName: "ReadOnlyAccess", accountId: "111111111111" },
    ]);
    expect((await get("/assignment/roles?account_id=222222222222")).body.roleList).toEqual([
      { roleName: "AdministratorAccess", accountId: "222222222222" },
    ]);
    // Bob's account: nothing of it shows, and its credentials are refused.
    expect((await get("/assignment/roles?account_id=333333333333")).body.roleList).toEqual([]);
    const denied = await get(
      "/federation/credentials?account_id=333333333333&role_name=AdministratorAccess",
    );
    expect(denied.status).toBe(403);
  });

  it("ends an access token at once when it is logged out through this replica (the reused grant check is dropped)", async () => {
    const { get, call } = portalWithAlice();
    expect((await get("/assignment/accounts")).status).toBe(200);
    expect((await call("POST", "/logout")).status).toBe(200);
    const after = await get("/assignment/accounts");
    expect(after.status).toBe(401);
    expect(after.body.message).toBeTruthy();
  });

  it("ends an access token revoked on another replica within a second: the record is read once a second per token, not on every call", async () => {
    const { get, clock, portal, reads } = portalWithAlice();
    for (let i = 0; i < 5; i++) expect((await get("/assignment/accounts")).status).toBe(200);
    expect(reads.count).toBe(1);
    // Another replica's logout (or idc reset) writes the record behind this one's back.
    const record = portal.records.get("alice");
    if (record) portal.records.set("alice", revokeGrant(record, "g1"));
    clock.now += 999;
    expect((await get("/assignment/accounts")).status).toBe(200);
    clock.now += 1;
    expect((await get("/assignment/accounts")).status).toBe(401);
    expect(reads.count).toBe(2);
  });

  it("ends a deactivated user's access token at once despite a recent check, and their CLI sign-ins for good", async () => {
    const { get, portal } = portalWithAlice();
    expect((await get("/assignment/accounts")).status).toBe(200);
    const alice = user("alice", (u) => (u.spec.active = false));
    portal.addUser(alice);
    expect((await get("/assignment/accounts")).status).toBe(401);
    expect(portal.records.get("alice")?.ssoGrants).toEqual([]);
  });
});
