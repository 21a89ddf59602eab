// Benchmark (not a test): the ListAccounts + ListAccountRoles walk for a user with access to
// 500 accounts, through the real portal process (`idc portal` from dist/, the portal's
// ServiceAccount), every page, as the clients walk it:
//   - the AWS SDK for JavaScript v3 (`@aws-sdk/client-sso` paginators), one call at a time, as
//     a script or `aws-sso-util`-style tool walks it;
//   - `idc configure`'s own walk (src/commands/sso.ts listAccess: 8 accounts at a time).
//
//   npm run bench:sso-account-walk
//   (BENCH_ACCOUNTS=500, BENCH_OTHER_USERS=1000 users with an assignment each, BENCH_WALKS=3)
//
// Alice may use ReadOnlyAccess in every account through her group (one assignment that selects
// the accounts by label) and Developer through one assignment per account naming her: two
// roles per account. Other users' assignments make the organisation bigger than what she sees.
// The portal only reads Account status, so the controller is stopped once it has made the
// portal's identity and Secrets, and the bench writes each Account's status as the controller
// writes it for provisioned roles (provisioning is what bench:provisioning measures).
import { paginateListAccountRoles, paginateListAccounts, SSOClient } from "@aws-sdk/client-sso";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { SsoApi } from "../src/client/sso-api.ts";
import { listAccess } from "../src/commands/sso.ts";
import { ssoEndpoints } from "../src/plan/sso-endpoints.ts";
import { inParallel, loadAverage, processTreeCpuSeconds } from "./support.ts";
import { startSsoStand, USER } from "./sso-support.ts";

const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 500);
const OTHER_USERS = Number(process.env.BENCH_OTHER_USERS ?? 1000);
const WALKS = Number(process.env.BENCH_WALKS ?? 3);
const CONCURRENCY = 16;
const ref = { group: "identitycenter.dev", version: "v1alpha1" };
const accountName = (i: number) => `account-${String(i).padStart(4, "0")}`;
const accountId = (i: number) => String(100_000_000_000 + i);

const stand = await startSsoStand({
  stopController: true,
  async afterController(env, objects) {
    const api = env.kubeConfig().makeApiClient(CustomObjectsApi);
    const started = Date.now();
    await objects.create("groups", "Group", "engineers", { members: [USER] });
    await objects.create("permissionsets", "PermissionSet", "read-only", {
      name: "ReadOnlyAccess",
      managedPolicies: ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    });
    await objects.create("permissionsets", "PermissionSet", "developer", {
      name: "Developer",
      managedPolicies: ["arn:aws:iam::aws:policy/PowerUserAccess"],
    });
    await objects.create("accountassignments", "AccountAssignment", "engineers-ro", {
      principal: { kind: "Group", name: "engineers" },
      permissionSet: "read-only",
      accountSelector: { matchLabels: { tier: "bench" } },
    });
    const indexes = [...Array(ACCOUNTS).keys()];
    await inParallel(indexes, CONCURRENCY, async (i) => {
      const name = accountName(i);
      const created = (await api.createClusterCustomObject({
        ...ref,
        plural: "accounts",
        body: {
          apiVersion: "identitycenter.dev/v1alpha1",
          kind: "Account",
          metadata: { name, labels: { tier: "bench" } },
          spec: { accountId: accountId(i), displayName: `Account ${String(i).padStart(4, "0")}` },
        },
      })) as Record<string, unknown>;
      const id = accountId(i);
      const role = (ps: string, roleName: string) => ({
        permissionSet: ps,
        roleName,
        roleArn: `arn:aws:iam::${id}:role/identitycenter/${roleName}`,
        state: "Provisioned",
      });
      // What the controller reports once both roles exist in the account.
      await api.replaceClusterCustomObjectStatus({
        ...ref,
        plural: "accounts",
        name,
        body: {
          ...created,
          status: {
            samlProviderArn: `arn:aws:iam::${id}:saml-provider/IdentityCenterOperator_default`,
            managedRoles: 2,
            roles: [
              role("developer", "IdC_Developer_bench"),
              role("read-only", "IdC_ReadOnlyAccess_bench"),
            ],
          },
        },
      });
      await objects.create("accountassignments", "AccountAssignment", `alice-dev-${name}`, {
        principal: { kind: "User", name: USER },
        permissionSet: "developer",
        accounts: [name],
      });
    });
    await inParallel([...Array(OTHER_USERS).keys()], CONCURRENCY, (u) =>
      objects.create("accountassignments", "AccountAssignment", `user-${String(u)}-dev`, {
        principal: { kind: "User", name: `user-${String(u)}` },
        permissionSet: "developer",
        accounts: [accountName(u % ACCOUNTS)],
      }),
    );
    console.log(
      `organisation: ${String(ACCOUNTS)} accounts, ${String(ACCOUNTS + OTHER_USERS + 1)} assignments, made in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  },
});
try {
  const { portal, accessToken } = stand;
  const endpoints = ssoEndpoints(portal.url);
  const idc = new SsoApi(endpoints);
  const expected = ACCOUNTS * 2;
  // Everything was made before the portal started, so its caches hold it all once it is
  // ready; one walk checks that before the timed ones.
  const seen = (await listAccess(idc, accessToken)).length;
  if (seen !== expected) throw new Error(`the portal shows ${String(seen)} of ${String(expected)}`);

  const sso = new SSOClient({ region: "us-east-1", endpoint: endpoints.ssoPortal });
  /** The SDK's paginators, one call at a time; returns the number of (account, role) pairs. */
  async function sdkWalk(): Promise<number> {
    let pairs = 0;
    for await (const page of paginateListAccounts({ client: sso }, { accessToken })) {
      for (const account of page.accountList ?? []) {
        for await (const roles of paginateListAccountRoles(
          { client: sso },
          { accessToken, accountId: account.accountId },
        ))
          pairs += roles.roleList?.length ?? 0;
      }
    }
    return pairs;
  }
  const idcWalk = async () => (await listAccess(idc, accessToken)).length;

  const processes: Record<string, number | undefined> = {
    portal: portal.child.pid,
    kubeApiServer: stand.env.apiServer.pid,
    etcd: stand.env.etcd.pid,
  };
  const cpuNow = async () => {
    const cpu: Record<string, number> = {};
    for (const [name, pid] of Object.entries(processes))
      cpu[name] = pid ? await processTreeCpuSeconds(pid) : NaN;
    const own = process.cpuUsage();
    // The client's side: this process (the SDK or idc's fetch calls).
    cpu.client = (own.user + own.system) / 1e6;
    return cpu;
  };
  const results: Record<string, { ms: number[]; cpuSeconds: Record<string, number>[] }> = {};
  async function time(name: string, walk: () => Promise<number>) {
    const before = await cpuNow();
    const start = performance.now();
    const pairs = await walk();
    const ms = performance.now() - start;
    const after = await cpuNow();
    if (pairs !== expected)
      throw new Error(`${name} found ${String(pairs)} pairs, not ${String(expected)}`);
    const r = (results[name] ??= { ms: [], cpuSeconds: [] });
    r.ms.push(ms);
    r.cpuSeconds.push(
      Object.fromEntries(
        Object.keys(after).map((k) => [k, Number(((after[k] ?? 0) - (before[k] ?? 0)).toFixed(2))]),
      ),
    );
  }
  const loadBefore = loadAverage();
  for (let w = 0; w < WALKS; w++) {
    await time("sdkSequential", sdkWalk);
    await time("idcConfigure", idcWalk);
  }
  const loadAfter = loadAverage();
  sso.destroy();
  const calls = Math.ceil(ACCOUNTS / 100) + ACCOUNTS;
  for (const [name, r] of Object.entries(results))
    console.log(
      `${name}: ${r.ms.map((ms) => `${(ms / 1000).toFixed(2)} s`).join(", ")} (${String(calls)} calls; CPU seconds ${JSON.stringify(r.cpuSeconds)})`,
    );
  console.log(`load average before ${loadBefore}, after ${loadAfter}`);
  const best = (xs: number[]) => Number((Math.min(...xs) / 1000).toFixed(2));
  console.log(
    JSON.stringify({
      accounts: ACCOUNTS,
      rolesPerAccount: 2,
      otherAssignments: OTHER_USERS,
      calls,
      walks: Object.fromEntries(
        Object.entries(results).map(([name, r]) => [
          name,
          {
            seconds: r.ms.map((ms) => Number((ms / 1000).toFixed(2))),
            best: best(r.ms),
            cpuSeconds: r.cpuSeconds,
          },
        ]),
      ),
      loadAverage: { before: loadBefore, after: loadAfter },
    }),
  );
} finally {
  await stand.stop();
}
