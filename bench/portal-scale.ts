// Benchmark (not a test): the portal's server time with a large organisation loaded into a real
// kube-apiserver: users in groups of 50, 250 accounts, 20 permission sets and 5,000 account
// assignments (one per account and permission set, to groups; one in 50 by label selector).
// The real portal app (buildPortalApp on the portal's informers and the CredentialStore) runs
// in this process; sampled users sign in over HTTP, then each loads the account list (GET /)
// and opens the AWS console (POST /aws/console) in turns.
//
//   npm run bench:portal-scale
//   (BENCH_USERS=100000 BENCH_GROUPS=10000 BENCH_ACCOUNTS=250 BENCH_PERMISSION_SETS=20
//    BENCH_SAMPLED_USERS=20 BENCH_ROUNDS=50 BENCH_CREDENTIALS=BENCH_USERS by default)
//
// Every user has a credential record (BENCH_CREDENTIALS of them, all by default), so the portal's
// session cache (docs/adr/0021) holds one slim entry per user, as it would in production; the
// heap after GC is measured before and after that cache syncs (run with --expose-gc).
//
// Server time is fastify's reply.elapsedTime in an onResponse hook: from the request's arrival
// to the last byte handed to the socket. The parts are timed apart too: the session check as it
// runs now (from the watched cache), the read of the credentials Secret it made on every request
// before (an API server round trip, timed beside it for comparison), the access computation
// through the indexes, and the same answer by the scan over every assignment and account that
// the portal used before.
//
// The load goes through one shared HTTP/2 connection with BENCH_CONCURRENCY (128) creates in
// flight (BulkCreator in support.ts): client-node opens a new connection per call.
import { createPrivateKey, randomBytes } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { CustomObjectsApi } from "@kubernetes/client-node";
import type { Account, Group, User } from "../src/api/v1alpha1/index.ts";
import { CredentialSessions } from "../src/adapters/k8s/credential-sessions.ts";
import {
  CREDENTIALS_LABEL,
  CredentialStore,
  credentialSecretName,
  USER_NAME_ANNOTATION,
  USER_OBJECT_ANNOTATION,
  USER_UID_ANNOTATION,
} from "../src/adapters/k8s/credential-store.ts";
import { createStores, credentialOwners, portalInformers } from "../src/adapters/k8s/stores.ts";
import { createLogger } from "../src/observability/logger.ts";
import { accessibleAccounts, findRole } from "../src/portal/access.ts";
import { buildPortalApp } from "../src/portal/app.ts";
import { hashPassword } from "../src/portal/password.ts";
import { startInformers } from "../src/runtime/informer.ts";
import { certificateBase64, createSigningIdentity } from "../src/saml/signing-identity.ts";
import { createNamespace, customObjects } from "../test/harness/k8s.ts";
import { waitFor } from "../test/harness/wait.ts";
import {
  BulkCreator,
  createRetrying,
  inParallel,
  LoadSampler,
  startBenchEnvironment,
} from "./support.ts";

const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 10_000);
const MEMBERS = 50;
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 250);
const PERMISSION_SETS = Number(process.env.BENCH_PERMISSION_SETS ?? 20);
const SAMPLED = Number(process.env.BENCH_SAMPLED_USERS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 50);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 128);
const CREDENTIALS = Number(process.env.BENCH_CREDENTIALS ?? USERS);
const NAMESPACE = "identity-center-operator";
const PASSWORD = "correct horse battery staple";
const ref = { group: "identitycenter.dev", version: "v1alpha1" };

const userName = (i: number) => `user-${String(i).padStart(6, "0")}`;
const groupName = (g: number) => `group-${String(g).padStart(5, "0")}`;
const accountName = (a: number) => `acct-${String(a).padStart(3, "0")}`;
const accountId = (a: number) => `3${String(a).padStart(11, "0")}`;

/** The heap after a full GC, in bytes (needs --expose-gc; without it, the heap as it is). */
function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

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
  const bulk = await BulkCreator.connect(kc);
  const create = (plural: string, kind: string, name: string, spec: unknown) =>
    bulk.create(`/apis/identitycenter.dev/v1alpha1/${plural}`, {
      apiVersion: "identitycenter.dev/v1alpha1",
      kind,
      metadata: { name },
      spec,
    });
  const createAccount = (name: string, spec: unknown) =>
    createRetrying(() =>
      api.createClusterCustomObject({
        ...ref,
        plural: "accounts",
        body: {
          apiVersion: "identitycenter.dev/v1alpha1",
          kind: "Account",
          metadata: { name },
          spec,
        },
      }),
    );
  let lastReport = Date.now();
  const progress = (what: string, done: number, total: number) => {
    if (Date.now() - lastReport < 30_000 && done !== total) return;
    lastReport = Date.now();
    const rate = done / ((Date.now() - loadStart) / 1000);
    console.error(`${what}: ${String(done)}/${String(total)} (${rate.toFixed(0)}/s since start)`);
  };
  let users = 0;
  await inParallel([...Array(USERS).keys()], CONCURRENCY, async (i) => {
    await create("users", "User", userName(i), {
      userName: userName(i),
      email: `${userName(i)}@example.com`,
    });
    progress("users", ++users, USERS);
  });
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
    await createAccount(accountName(a), { accountId: accountId(a) });
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
  const kindsLoadSeconds = (Date.now() - loadStart) / 1000;
  console.error(`kinds loaded in ${kindsLoadSeconds.toFixed(0)} s`);

  const log = createLogger("silent");
  const heapBeforeCaches = heapAfterGc();
  const stores = createStores(kc, log);
  const syncStart = Date.now();
  await startInformers(portalInformers(stores));
  await waitFor(
    "the portal's caches to hold every assignment",
    () => Promise.resolve(stores.assignments.informer.size === assignmentCount),
    600_000,
  );
  const syncSeconds = (Date.now() - syncStart) / 1000;
  const heapWithKindCaches = heapAfterGc();
  // A record belongs to a User's uid, so it is written once the caches know the Users. Every
  // user's record as an invited, signed-in user's would be: a hash and one listed session.
  const stored = await hashPassword(PASSWORD);
  const credentialsStart = Date.now();
  let records = 0;
  await inParallel([...Array(CREDENTIALS).keys()], CONCURRENCY, async (i) => {
    const name = userName(i);
    const uid = stores.users.informer.get(name)?.metadata.uid ?? "";
    const record = {
      userName: name,
      userUid: uid,
      passwordHash: stored,
      failures: 0,
      sessionEpoch: 1,
      sessions: [
        { id: randomBytes(18).toString("base64url"), expiresAt: Date.now() + 8 * 3600_000 },
      ],
    };
    await bulk.create(`/api/v1/namespaces/${NAMESPACE}/secrets`, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: credentialSecretName(name),
        labels: { [CREDENTIALS_LABEL]: "true" },
        annotations: {
          [USER_NAME_ANNOTATION]: name,
          [USER_UID_ANNOTATION]: uid,
          [USER_OBJECT_ANNOTATION]: name,
        },
      },
      type: "Opaque",
      data: { "credentials.json": Buffer.from(JSON.stringify(record)).toString("base64") },
    });
    progress("credential records", ++records, CREDENTIALS);
  });
  const credentialsLoadSeconds = (Date.now() - credentialsStart) / 1000;
  await bulk.close();
  const loadSeconds = (Date.now() - loadStart) / 1000;
  console.error(`loaded in ${loadSeconds.toFixed(0)} s`);
  // The session check's cache, as `idc portal` wires it.
  const sessionRecords = new CredentialSessions(kc, NAMESPACE, credentialOwners(stores), log);
  const cacheStart = Date.now();
  await startInformers([sessionRecords.informer]);
  const cacheSyncSeconds = (Date.now() - cacheStart) / 1000;
  const heapWithSessionCache = heapAfterGc();
  const store = new CredentialStore(kc, NAMESPACE, credentialOwners(stores), {
    seen: (secret) => sessionRecords.observe(secret),
  });
  // The sampled users: the first of each group of 50 in the first groups, which hold assignments.
  const sampled = Array.from({ length: SAMPLED }, (_, k) => {
    // Group g's members are users g*50 .. g*50+49; assignment i goes to group (i*37) % GROUPS.
    const g = (k * 37) % GROUPS;
    return userName((g * MEMBERS) % USERS);
  });
  for (const name of sampled) await store.update(name, (r) => ({ ...r, passwordHash: stored }));
  const secretReads: number[] = [];
  const cachedChecks: number[] = [];
  // The session check's look-up in the cache, timed as the requests make it.
  const timedSessionRecords = {
    lookup: (name: string) => {
      const start = performance.now();
      try {
        return sessionRecords.lookup(name);
      } finally {
        cachedChecks.push(performance.now() - start);
      }
    },
  };

  const signing = createSigningIdentity("sso.example.com", new Date());
  const app = buildPortalApp({
    stores,
    instanceName: "default",
    credentials: store,
    sessionRecords: timedSessionRecords,
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
  // How long the process waited for its turn on a core during the rounds: on a shared machine
  // that, not the portal's own work, is what the tail of the server time is made of.
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const cpuStart = process.cpuUsage();
  const roundsStart = performance.now();
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
      // What the session check cost before the cache: a read of the record per request.
      t = performance.now();
      await store.get(s.name);
      secretReads.push(performance.now() - t);
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
  loopDelay.disable();
  const roundsMs = performance.now() - roundsStart;
  const cpu = process.cpuUsage(cpuStart);
  const checks = await portal.metrics.registry.getSingleMetricAsString(
    "idc_portal_session_checks_total",
  );
  const checkCount = (source: string) =>
    Number(new RegExp(`source="${source}"} (\\d+)`).exec(checks)?.[1] ?? 0);
  const rss = process.memoryUsage().rss;
  await app.close();
  await sessionRecords.informer.stop();
  const mib = (bytes: number) => Math.round(bytes / 1048576);
  console.log(
    JSON.stringify({
      users: USERS,
      groups: GROUPS,
      accounts: ACCOUNTS,
      assignments: assignmentCount,
      sampledUsers: SAMPLED,
      rolesPerUserMean: Number((roles / (ROUNDS * SAMPLED)).toFixed(1)),
      credentialRecords: CREDENTIALS,
      loadSeconds: Number(loadSeconds.toFixed(0)),
      kindsLoadSeconds: Number(kindsLoadSeconds.toFixed(0)),
      credentialsLoadSeconds: Number(credentialsLoadSeconds.toFixed(0)),
      createsPerSecond: Math.round(
        (USERS + GROUPS + assignmentCount + ACCOUNTS + CREDENTIALS) / loadSeconds,
      ),
      cacheSyncSeconds: Number(syncSeconds.toFixed(1)),
      sessionCacheSyncSeconds: Number(cacheSyncSeconds.toFixed(1)),
      heapAfterGcMiB: {
        beforeCaches: mib(heapBeforeCaches),
        withKindCaches: mib(heapWithKindCaches),
        withSessionCache: mib(heapWithSessionCache),
      },
      sessionCacheBytesPerRecord: Math.round(
        (heapWithSessionCache - heapWithKindCaches) / Math.max(1, CREDENTIALS),
      ),
      processRssMiB: mib(rss),
      sessionChecks: { cache: checkCount("cache"), read: checkCount("read") },
      serverMs: {
        accountList: quantiles(serverTime.get("GET /") ?? []),
        awsConsole: quantiles(serverTime.get("POST /aws/console") ?? []),
      },
      partsMs: {
        sessionCheckCached: quantiles(cachedChecks),
        credentialsSecretReadBefore: quantiles(secretReads),
        accessIndexed: quantiles(indexed),
        consoleRoleCheckIndexed: quantiles(check),
        accessByScanBefore: quantiles(scanned),
      },
      eventLoopDelayMs: {
        p50: Number((loopDelay.percentile(50) / 1e6).toFixed(2)),
        p99: Number((loopDelay.percentile(99) / 1e6).toFixed(2)),
        max: Number((loopDelay.max / 1e6).toFixed(2)),
      },
      // The bench process's CPU time over the wall time of the rounds (1 = one core all along).
      benchCpuShareOfRounds: Number(((cpu.user + cpu.system) / 1000 / roundsMs).toFixed(2)),
      loadAverage: load.stop(),
    }),
  );
} finally {
  await env.stop();
}
