// Benchmark (not a test): SCIM provisioning through the real /scim/v2 endpoint of a real portal
// process (`idc portal`, compiled, as its ServiceAccount under the chart's RBAC and admission
// policy) on a real kube-apiserver, against direct creates of the same objects (kubectl-style:
// one POST per object, same identity, same admission) in the same run, in alternating slices so
// both see the same machine load. Then a full sync is repeated as Entra ID and Okta do it (a GET
// by filter, then a PUT of unchanged data, for every user and group) and the API server's own
// write count (apiserver_request_total) and every object's resourceVersion must not move.
//
//   npm run bench:scim-sync
//   (BENCH_USERS=10000 BENCH_GROUPS=1000 BENCH_MEMBERS=50 BENCH_CONCURRENCY=16 by default)
//
// The portal's SCIM rate limit (6,000 requests a minute per address) applies: a 429 is waited
// out as its Retry-After says, like a client does, and counted.
import { CustomObjectsApi } from "@kubernetes/client-node";
import { loadKubeConfig } from "../src/adapters/k8s/kube-config.ts";
import { ScimTokenStore } from "../src/adapters/k8s/scim-tokens.ts";
import { newScimToken } from "../src/plan/scim/tokens.ts";
import {
  PORTAL_SERVICE_ACCOUNT,
  applyAll,
  chartControllerKubeconfig,
  renderedChart,
} from "../test/harness/chart.ts";
import { startControllerProcess } from "../test/harness/controller-process.ts";
import { createOperatorNamespaces, customObjects } from "../test/harness/k8s.ts";
import { repoRoot } from "../test/harness/paths.ts";
import { startPortalProcess } from "../test/harness/portal-process.ts";
import { freePort } from "../test/harness/ports.ts";
import { waitFor } from "../test/harness/wait.ts";
import path from "node:path";
import {
  identityCenterWrites,
  inParallel,
  loadAverage,
  startBenchEnvironment,
  writesSince,
} from "./support.ts";

const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 1_000);
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 50);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SLICES = 10;
const NAMESPACE = "identity-center-operator";
const ref = { group: "identitycenter.dev", version: "v1alpha1" };
const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";

const userName = (side: string, i: number) => `${side}-user-${String(i).padStart(6, "0")}`;
const groupName = (side: string, g: number) => `${side}-group-${String(g).padStart(5, "0")}`;
const userBody = (name: string) => ({
  schemas: [USER_SCHEMA],
  userName: name,
  displayName: name,
  emails: [{ value: `${name}@example.com`, type: "work", primary: true }],
  active: true,
});
const memberIndexes = (g: number) =>
  Array.from({ length: MEMBERS }, (_, m) => (g * MEMBERS + m) % USERS);

const env = await startBenchEnvironment();
let stopPortal: (() => Promise<void>) | undefined;
try {
  const kc = env.kubeConfig();
  await createOperatorNamespaces(kc, NAMESPACE);
  await applyAll(
    env,
    (await renderedChart()).filter((o) => o.kind.startsWith("ValidatingAdmissionPolicy")),
    { fieldManager: "helm" },
  );
  const objects = customObjects(kc);
  const port = await freePort();
  const portalUrl = `http://127.0.0.1:${String(port)}`;
  await objects.create("identitycenters", "IdentityCenter", "default", {
    portal: { hostname: "sso.example.com", externalUrl: portalUrl },
    signIn: { mfa: "disabled" },
    identitySource: { type: "internal", scim: { enabled: true } },
  });
  // The controller makes the portal's Secrets and RBAC, then stops: its status writes would be
  // writes in the counts below.
  const controller = await startControllerProcess({
    kubeconfig: await chartControllerKubeconfig(env),
    workDir: env.workDir,
    identity: "scim-bench",
    namespace: NAMESPACE,
    args: ["--leader-elect=false", "--portal-image=identity-center-operator:bench"],
  });
  const portalKubeconfig = await env.kubeconfigFor(PORTAL_SERVICE_ACCOUNT);
  const asPortal = loadKubeConfig(portalKubeconfig);
  await waitFor(
    "status.endpoints.scim",
    async () =>
      (
        (await objects.get("identitycenters", "default")).status?.endpoints as
          { scim?: string } | undefined
      )?.scim !== undefined,
    120_000,
  );
  await controller.stop("SIGTERM");
  const { token, record } = newScimToken(new Date());
  await new ScimTokenStore(kc, NAMESPACE, "default").add("bench", record);
  const portal = startPortalProcess({
    kubeconfig: portalKubeconfig,
    workDir: env.workDir,
    namespace: NAMESPACE,
    port,
    entry: path.join(repoRoot, "dist/cli.js"),
  });
  stopPortal = () => portal.stop();
  await waitFor("the portal to be ready", () => portal.ready(), 120_000);
  const base = `${portalUrl}/scim/v2`;

  let throttled = 0;
  async function scim(
    method: string,
    url: string,
    body?: unknown,
  ): Promise<Record<string, unknown>> {
    for (;;) {
      const res = await fetch(`${base}${url}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "content-type": "application/scim+json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      if (res.status === 429) {
        throttled++;
        const wait = Number(res.headers.get("retry-after") ?? "1");
        await new Promise((r) => setTimeout(r, Math.max(1, wait) * 1000));
        continue;
      }
      if (res.status >= 300)
        throw new Error(`${method} ${url}: ${String(res.status)} ${text.slice(0, 300)}`);
      return text ? (JSON.parse(text) as Record<string, unknown>) : {};
    }
  }

  // The same objects SCIM writes, created directly as the portal's ServiceAccount.
  const direct = asPortal.makeApiClient(CustomObjectsApi);
  const scimLabels = (id: string) => ({
    "identitycenter.dev/managed-by": "scim",
    "identitycenter.dev/scim-id": id,
  });
  const directUser = (i: number) =>
    direct.createClusterCustomObject({
      ...ref,
      plural: "users",
      body: {
        apiVersion: "identitycenter.dev/v1alpha1",
        kind: "User",
        metadata: { name: userName("d", i), labels: scimLabels(`d-u-${String(i)}`) },
        spec: {
          userName: userName("d", i),
          displayName: userName("d", i),
          email: `${userName("d", i)}@example.com`,
          active: true,
        },
      },
    });
  const directGroup = (g: number) =>
    direct.createClusterCustomObject({
      ...ref,
      plural: "groups",
      body: {
        apiVersion: "identitycenter.dev/v1alpha1",
        kind: "Group",
        metadata: { name: groupName("d", g), labels: scimLabels(`d-g-${String(g)}`) },
        spec: {
          displayName: groupName("d", g),
          members: memberIndexes(g).map((i) => userName("d", i)),
        },
      },
    });

  const scimIds: string[] = new Array<string>(USERS);
  const groupIds: string[] = new Array<string>(GROUPS);
  const scimUser = async (i: number) => {
    scimIds[i] = String((await scim("POST", "/Users", userBody(userName("s", i)))).id);
  };
  const groupBody = (g: number) => ({
    schemas: [GROUP_SCHEMA],
    displayName: groupName("s", g),
    members: memberIndexes(g).map((i) => ({ value: scimIds[i] })),
  });
  const scimGroup = async (g: number) => {
    groupIds[g] = String((await scim("POST", "/Groups", groupBody(g))).id);
  };

  const load: string[] = [loadAverage()];
  const time = { direct: 0, scim: 0 };
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
  async function timed(side: "direct" | "scim", work: () => Promise<void>) {
    const start = performance.now();
    await work();
    time[side] += performance.now() - start;
  }
  // Users in alternating slices, then groups (their members exist by then) the same way.
  for (const [count, directOne, scimOne] of [
    [USERS, directUser, scimUser],
    [GROUPS, directGroup, scimGroup],
  ] as const) {
    const per = Math.ceil(count / SLICES);
    for (let s = 0; s < SLICES; s++) {
      const items = range(s * per, Math.min(count, (s + 1) * per));
      const order = s % 2 === 0 ? (["direct", "scim"] as const) : (["scim", "direct"] as const);
      for (const side of order)
        await timed(side, () =>
          inParallel(items, CONCURRENCY, (i) => (side === "direct" ? directOne(i) : scimOne(i))),
        );
    }
    load.push(loadAverage());
  }
  const objectsMade = USERS + GROUPS;
  const rate = (ms: number) => objectsMade / (ms / 1000);

  // The repeated full sync: what Entra ID and Okta do on each cycle for unchanged data.
  const versions = async () => {
    const out = new Map<string, string>();
    for (const plural of ["users", "groups"]) {
      const list = (await kc
        .makeApiClient(CustomObjectsApi)
        .listClusterCustomObject({ ...ref, plural })) as {
        items: { metadata: { name: string; resourceVersion: string } }[];
      };
      for (const o of list.items)
        out.set(`${plural}/${o.metadata.name}`, o.metadata.resourceVersion);
    }
    return out;
  };
  const before = await versions();
  const writesBefore = await identityCenterWrites(env);
  const resyncStart = performance.now();
  await inParallel(range(0, USERS), CONCURRENCY, async (i) => {
    const filter = encodeURIComponent(`userName eq "${userName("s", i)}"`);
    const found = await scim("GET", `/Users?filter=${filter}`);
    const id = String((found.Resources as { id: string }[])[0]?.id);
    await scim("PUT", `/Users/${id}`, userBody(userName("s", i)));
  });
  await inParallel(range(0, GROUPS), CONCURRENCY, async (g) => {
    const filter = encodeURIComponent(`displayName eq "${groupName("s", g)}"`);
    const found = await scim("GET", `/Groups?filter=${filter}&excludedAttributes=members`);
    const id = String((found.Resources as { id: string }[])[0]?.id);
    await scim("PUT", `/Groups/${id}`, groupBody(g));
  });
  const resyncMs = performance.now() - resyncStart;
  load.push(loadAverage());
  const resyncWrites = writesSince(writesBefore, await identityCenterWrites(env));
  const after = await versions();
  const moved = [...after].filter(([k, v]) => before.get(k) !== v).map(([k]) => k);

  const result = {
    users: USERS,
    groups: GROUPS,
    membersPerGroup: MEMBERS,
    concurrency: CONCURRENCY,
    directCreatesPerSecond: Number(rate(time.direct).toFixed(1)),
    scimCreatesPerSecond: Number(rate(time.scim).toFixed(1)),
    ratio: Number((time.direct / time.scim).toFixed(3)),
    throttled429: throttled,
    // The same counter during the creates: it sees writes (so its zero below means none).
    apiServerWritesDuringCreates: writesBefore,
    resync: {
      requests: 2 * (USERS + GROUPS),
      seconds: Number((resyncMs / 1000).toFixed(1)),
      apiServerWrites: {
        users: resyncWrites.users ?? 0,
        groups: resyncWrites.groups ?? 0,
      },
      objectsWhoseResourceVersionMoved: moved.length,
    },
    loadAverage: load,
  };
  console.log(JSON.stringify(result, null, 2));
  if (
    moved.length > 0 ||
    result.resync.apiServerWrites.users + result.resync.apiServerWrites.groups > 0
  )
    process.exitCode = 1;
} finally {
  if (stopPortal) await stopPortal();
  await env.stop();
}
