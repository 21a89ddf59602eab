// Benchmark (not a test): the portal's server time with a large organisation loaded into a real
// kube-apiserver: users in groups of 50, 250 accounts, 20 permission sets and 5,000 account
// assignments (one per account and permission set, to groups; one in 50 by label selector).
// The real portal app (buildPortalApp on the portal's informers and the CredentialStore) runs
// in this process; sampled users sign in over HTTP, then each loads the account list (GET /)
// and opens the AWS console (POST /aws/console) in turns.
//
//   npm run bench:portal-scale
//   (BENCH_USERS=100000 BENCH_GROUPS=10000 BENCH_ACCOUNTS=250 BENCH_PERMISSION_SETS=20
//    BENCH_SAMPLED_USERS=20 BENCH_ROUNDS=50 by default)
//
// Server time is fastify's reply.elapsedTime in an onResponse hook: from the request's arrival
// to the last byte handed to the socket. The parts are timed apart too: the session check's
// read of the credentials Secret (an API server round trip on every request, by design: a
// signed-out session must end at once), the access computation through the indexes, and the
// same answer by the scan over every assignment and account that the portal used before.
import { createPrivateKey, randomBytes } from "node:crypto";
import { CustomObjectsApi } from "@kubernetes/client-node";
import type { Account, Group, User } from "../src/api/v1alpha1/index.ts";
import { CredentialStore } from "../src/adapters/k8s/credential-store.ts";
import { createStores, credentialOwners, portalInformers } from "../src/adapters/k8s/stores.ts";
import { createLogger } from "../src/observability/logger.ts";
import { accessibleAccounts, findRole } from "../src/portal/access.ts";
import { buildPortalApp } from "../src/portal/app.ts";
import { hashPassword } from "../src/portal/password.ts";
import { startInformers } from "../src/runtime/informer.ts";
import { certificateBase64, createSigningIdentity } from "../src/saml/signing-identity.ts";
import { createNamespace, customObjects } from "../test/harness/k8s.ts";
import { waitFor } from "../test/harness/wait.ts";
import { createRetrying, inParallel, LoadSampler, startBenchEnvironment } from "./support.ts";

const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 10_000);
const MEMBERS = 50;
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 250);
const PERMISSION_SETS = Number(process.env.BENCH_PERMISSION_SETS ?? 20);
const SAMPLED = Number(process.env.BENCH_SAMPLED_USERS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 50);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 96);
const NAMESPACE = "identity-center-operator";
const PASSWORD = "correct horse battery staple";
const ref = { group: "identitycenter.dev", version: "v1alpha1" };

const userName = (i: number) => `user-${String(i).padStart(6, "0")}`;
const groupName = (g: number) => `group-${String(g).padStart(5, "0")}`;
const accountName = (a: number) => `acct-${String(a).padStart(3, "0")}`;
const accountId = (a: number) => `3${String(a).padStart(11, "0")}`;

function quantiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const ms = (n: number) => Number(n.toFixed(2));
  return { n: sorted.length, p50: ms(at(0.5)), p99: ms(at(0.99)), max: ms(at(1)) };
}

const env = await startBenchEnvironment();
try {
  const kc = env.kubeConfig();
  await createNamespace(kc, NAMESPACE);
  const objects = customObjects(kc);
  const api = kc.makeApiClient(CustomObjectsApi);
  const load = new LoadSampler();
  const loadStart = Date.now();
  await objects.create("identitycenters", "IdentityCenter", "default", {
    portal: { hostname: "sso.example.com", externalUrl: "http://127.0.0.1:8080" },
    signIn: { mfa: "disabled" },
  });
  const create = (plural: string, kind: string, name: string, spec: unknown) =>
    createRetrying(() =>
      api.createClusterCustomObject({
        ...ref,
        plural,
        body: { apiVersion: "identitycenter.dev/v1alpha1", kind, metadata: { name }, spec },
      }),
    );
  await inParallel([...Array(USERS).keys()], CONCURRENCY, (i) =>
    create("users", "User", userName(i), {
      userName: userName(i),
      email: `${userName(i)}@example.com`,
    }),
  );
  await inParallel([...Array(GROUPS).keys()], CONCURRENCY, (g) =>
    create("groups", "Group", groupName(g), {
      members: Array.from({ length: MEMBERS }, (_, m) => userName((g * MEMBERS + m) % USERS)),
    }),
  );
  await inParallel([...Array(PERMISSION_SETS).keys()], 8, (p) =>
    create("permissionsets", "PermissionSet", `ps-${String(p)}`, { name: `Bench${String(p)}` }),
  );
  // Accounts as the controller leaves them: the SAML provider and every role Provisioned.
  await inParallel([...Array(ACCOUNTS).keys()], 16, async (a) => {
    await create("accounts", "Account", accountName(a), { accountId: accountId(a) });
    await objects.setLabels("accounts", accountName(a), { ou: `ou-${String(a % 5)}` });
    const stored = (await api.getClusterCustomObject({
      ...ref,
      plural: "accounts",
      name: accountName(a),
    })) as Account;
    await api.replaceClusterCustomObjectStatus({
      ...ref,
      plural: "accounts",
      name: accountName(a),
      body: {
        ...stored,
        status: {
          samlProviderArn: `arn:aws:iam::${accountId(a)}:saml-provider/IdentityCenterOperator_default`,
          roles: Array.from({ length: PERMISSION_SETS }, (_, p) => ({
            permissionSet: `ps-${String(p)}`,
            roleName: `IdC_Bench${String(p)}`,
            roleArn: `arn:aws:iam::${accountId(a)}:role/identitycenter/IdC_Bench${String(p)}`,
            state: "Provisioned",
          })),
        },
      },
    });
  });
  // One assignment per account and permission set, each to a group; the groups are spread so
  // that every sampled user (user i, i < SAMPLED) gets some through their five groups.
  const assignmentCount = ACCOUNTS * PERMISSION_SETS;
  await inParallel([...Array(assignmentCount).keys()], CONCURRENCY, (i) => {
    const a = Math.floor(i / PERMISSION_SETS);
    const p = i % PERMISSION_SETS;
    const byLabel = i % 50 === 0;
    return create("accountassignments", "AccountAssignment", `aa-${String(i)}`, {
      principal: { kind: "Group", name: groupName((i * 37) % GROUPS) },
      permissionSet: `ps-${String(p)}`,
      ...(byLabel
        ? { accountSelector: { matchLabels: { ou: `ou-${String(a % 5)}` } } }
        : { accounts: [i % 2 ? accountName(a) : accountId(a)] }),
    });
  });
  const loadSeconds = (Date.now() - loadStart) / 1000;
  console.log(`loaded in ${loadSeconds.toFixed(0)} s`);

  const log = createLogger("silent");
  const stores = createStores(kc, log);
  const syncStart = Date.now();
  await startInformers(portalInformers(stores));
  await waitFor(
    "the portal's caches to hold every assignment",
    () => Promise.resolve(stores.assignments.informer.size === assignmentCount),
    600_000,
  );
  const syncSeconds = (Date.now() - syncStart) / 1000;
  const heapMiB = process.memoryUsage().heapUsed / 1048576;
  // A record belongs to a User's uid, so it is written once the caches know the Users.
  const stored = await hashPassword(PASSWORD);
  const store = new CredentialStore(kc, NAMESPACE, credentialOwners(stores));
  // The sampled users: the first of each group of 50 in the first groups, which hold assignments.
  const sampled = Array.from({ length: SAMPLED }, (_, k) => {
    // Group g's members are users g*50 .. g*50+49; assignment i goes to group (i*37) % GROUPS.
    const g = (k * 37) % GROUPS;
    return userName((g * MEMBERS) % USERS);
  });
  for (const name of sampled) await store.update(name, (r) => ({ ...r, passwordHash: stored }));
  const secretReads: number[] = [];
  const credentials = {
    get: async (name: string) => {
      const start = performance.now();
      try {
        return await store.get(name);
      } finally {
        secretReads.push(performance.now() - start);
      }
    },
    update: store.update.bind(store),
    updateExisting: store.updateExisting.bind(store),
  };

  const signing = createSigningIdentity("sso.example.com", new Date());
  const app = buildPortalApp({
    stores,
    instanceName: "default",
    credentials,
    sessionKey: randomBytes(32),
    signing: {
      privateKey: createPrivateKey(signing.privateKeyPem),
      certificatePem: signing.certificatePem,
      certificateBase64: certificateBase64(signing.certificatePem),
    },
    // The bench opens no application.
    applicationKeys: { signingFor: () => Promise.resolve(undefined) },
    stsEndpoint: undefined,
    region: "us-east-1",
    log,
    throttle: { perAddress: { max: 1_000_000 }, global: { max: 1_000_000 } },
  });
  const serverTime = new Map<string, number[]>();
  app.addHook("onResponse", (req, reply, done) => {
    const key = `${req.method} ${req.routeOptions.url ?? req.url}`;
    const list = serverTime.get(key) ?? [];
    list.push(reply.elapsedTime);
    serverTime.set(key, list);
    done();
  });
  const base = await app.listen({ host: "127.0.0.1", port: 0 });

  async function signIn(name: string): Promise<{ cookie: string; csrf: string }> {
    const page = await fetch(`${base}/login`);
    const cookie = (page.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? "";
    const res = await fetch(`${base}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, username: name, password: PASSWORD }).toString(),
    });
    await res.arrayBuffer();
    if (res.status !== 303) throw new Error(`sign-in of ${name} answered ${String(res.status)}`);
    const signedIn = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const home = await fetch(`${base}/`, { headers: { cookie: signedIn } });
    const token = /name="csrf" value="([^"]+)"/.exec(await home.text())?.[1] ?? "";
    return { cookie: signedIn, csrf: token };
  }
  const sessions = [];
  for (const name of sampled) sessions.push({ name, ...(await signIn(name)) });

  const user = (name: string) => {
    const found = stores.users.informer.get(name);
    if (!found) throw new Error(`no user ${name}`);
    return found;
  };
  const groupsOf = (u: User): Group[] =>
    [...stores.directory.groupsWithMember(u.spec.userName)].flatMap(
      (g) => stores.groups.informer.get(g) ?? [],
    );
  const portal = app.portal;
  const indexed: number[] = [];
  const check: number[] = [];
  const scanned: number[] = [];
  let roles = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of sessions) {
      const u = user(s.name);
      let t = performance.now();
      const access = portal.accessOf(u);
      indexed.push(performance.now() - t);
      const wanted = access[round % Math.max(1, access.length)];
      const role = wanted?.roles[0];
      if (!wanted || !role) throw new Error(`${s.name} has no access to open`);
      roles += access.reduce((n, a) => n + a.roles.length, 0);
      t = performance.now();
      portal.roleOf(u, wanted.account, role.permissionSet);
      check.push(performance.now() - t);
      if (round < 5) {
        // The scan the portal did before, for comparison (a few rounds: it is slow).
        t = performance.now();
        const all = accessibleAccounts({
          user: u,
          groups: groupsOf(u),
          assignments: stores.assignments.informer.list(),
          accounts: stores.accounts.informer.list(),
          permissionSets: stores.permissionSets.informer.list(),
        });
        findRole(all, wanted.account, role.permissionSet);
        scanned.push(performance.now() - t);
      }
      const page = await fetch(`${base}/`, { headers: { cookie: s.cookie } });
      await page.arrayBuffer();
      if (page.status !== 200) throw new Error(`GET / answered ${String(page.status)}`);
      const console_ = await fetch(`${base}/aws/console`, {
        method: "POST",
        headers: { cookie: s.cookie, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          csrf: s.csrf,
          account: wanted.account,
          permissionSet: role.permissionSet,
        }).toString(),
      });
      const html = await console_.text();
      if (console_.status !== 200 || !html.includes("SAMLResponse"))
        throw new Error(`POST /aws/console answered ${String(console_.status)}`);
    }
  }
  await app.close();
  console.log(
    JSON.stringify({
      users: USERS,
      groups: GROUPS,
      accounts: ACCOUNTS,
      assignments: assignmentCount,
      sampledUsers: SAMPLED,
      rolesPerUserMean: Number((roles / (ROUNDS * SAMPLED)).toFixed(1)),
      loadSeconds: Number(loadSeconds.toFixed(0)),
      cacheSyncSeconds: Number(syncSeconds.toFixed(1)),
      portalHeapMiB: Math.round(heapMiB),
      serverMs: {
        accountList: quantiles(serverTime.get("GET /") ?? []),
        awsConsole: quantiles(serverTime.get("POST /aws/console") ?? []),
      },
      partsMs: {
        credentialsSecretRead: quantiles(secretReads),
        accessIndexed: quantiles(indexed),
        consoleRoleCheckIndexed: quantiles(check),
        accessByScanBefore: quantiles(scanned),
      },
      loadAverage: load.stop(),
    }),
  );
} finally {
  await env.stop();
}
