import { describe, expect, it } from "vitest";
import type { Account } from "../../api/v1alpha1/index.ts";
import { newRecord } from "../../identity/credentials.ts";
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
  const portal = fakePortal({ now: () => new Date(now) });
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
  const get = (url: string) =>
    app.inject({ url, headers: { "x-amz-sso_bearer_token": token } }).then((r) => ({
      status: r.statusCode,
      body: r.json<Record<string, unknown>>(),
    }));
  return { get };
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
});
