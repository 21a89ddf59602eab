import {
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListSAMLProvidersCommand,
  type IAMClient,
} from "@aws-sdk/client-iam";
import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roleName, samlProviderName } from "../../../src/plan/naming.ts";
import { chartControllerKubeconfig } from "../../harness/chart.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import {
  assertNoForbiddenRequests,
  motoControllerEnv,
  startControllerProcess,
  type ControllerProcess,
} from "../../harness/controller-process.ts";
import { FaultProxy, seededRandom, type Fault } from "../../harness/fault-proxy.ts";
import { createNamespace, customObjects } from "../../harness/k8s.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";

const NS = "identity-center-operator";
const KILLS = 20;
/** API server restarts come after these kills, while the next controller starts. */
const API_RESTARTS_AFTER = new Set([6, 13]);
/** The organisation changes (deletions, edits, a relabel) after this kill. */
const CHANGE_AFTER = 9;
/** Requests (passed on and faulted) the whole run may make to AWS; a run makes about 3,000. */
const REQUEST_BUDGET = 15_000;
const SEED = Number(process.env.IDC_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));

/**
 * When each controller run is killed, drawn from the seed before anything starts (the faults
 * have their own generator, whose draws depend on the order of requests): four in five while
 * it leads, 0 to 1.5 s after it started its controllers (reconciles are in flight: an account
 * takes longer than that under the faults); the rest while it starts (loading, listing,
 * waiting for the Lease), 0 to 2 s after its turn began (its spawn, or the previous run's
 * exit when it was already waiting as a standby).
 */
interface KillMoment {
  phase: "starting" | "leading";
  afterMs: number;
  /**
   * Whether the next run is spawned while this one leads (a standby replica that takes over
   * once the Lease runs out) rather than after the kill (a restart that loads from scratch).
   */
  standbyNext: boolean;
  /** For a kill followed by an API server restart: how long the next run starts first. */
  apiServerRestartAfterMs?: number;
}
function killSchedule(seed: number): KillMoment[] {
  const rand = seededRandom(seed);
  return Array.from({ length: KILLS }, (_, i) => {
    const phase = rand() < 0.2 ? "starting" : "leading";
    const afterMs = Math.floor(rand() * (phase === "starting" ? 2000 : 1500));
    const standbyNext = rand() < 0.5;
    const restart = API_RESTARTS_AFTER.has(i + 1) ? 300 + Math.floor(rand() * 1200) : undefined;
    return {
      phase,
      afterMs,
      standbyNext,
      ...(restart === undefined ? {} : { apiServerRestartAfterMs: restart }),
    };
  });
}

/**
 * Lease timing of the runs that get killed: a killed leader cannot release its Lease, so the
 * next run waits out its duration (1 s, the shortest a Lease records). The last run, which
 * must converge under the same faults on a loaded machine, keeps the defaults' proportions.
 */
const CHAOS_LEASE = ["--lease-duration=1s", "--renew-deadline=800ms", "--retry-period=250ms"];
const FINAL_LEASE = ["--lease-duration=6s", "--renew-deadline=4s", "--retry-period=1s"];

/** The share of AWS calls that fail, and how. */
const FAULT_SHARES: [number, Fault][] = [
  [0.05, { kind: "error", status: 400, code: "Throttling" }],
  [0.03, { kind: "error", status: 500, code: "ServiceFailure" }],
  [0.01, { kind: "error", status: 503, code: "ServiceUnavailable" }],
  [0.02, { kind: "reset" }],
  [0.02, { kind: "lostResponse" }],
  [0.01, { kind: "blackHole" }],
];

const accounts = Array.from({ length: 10 }, (_, i) => ({
  name: `acct-${String(i).padStart(2, "0")}`,
  id: String(100000000000 + i),
  env: i < 5 ? "prod" : "dev",
}));

interface PermissionSetSpec {
  name: string;
  sessionDuration?: string;
  managedPolicies?: string[];
  inlinePolicy?: { Version: string; Statement: Record<string, unknown>[] };
  tags?: Record<string, string>;
}

const inline = (sid: string, actions: string[]) => ({
  Version: "2012-10-17",
  Statement: [{ Sid: sid, Effect: "Allow", Action: actions, Resource: "*" }],
});

const permissionSets: Record<string, PermissionSetSpec> = {
  admin: { name: "Admin", managedPolicies: ["arn:aws:iam::aws:policy/AdministratorAccess"] },
  "read-only": {
    name: "ReadOnly",
    managedPolicies: ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    tags: { team: "platform" },
  },
  billing: {
    name: "Billing",
    sessionDuration: "PT4H",
    managedPolicies: ["arn:aws:iam::aws:policy/job-function/Billing"],
  },
  network: { name: "Network", inlinePolicy: inline("Network", ["ec2:Describe*"]) },
  data: {
    name: "Data",
    managedPolicies: ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
    inlinePolicy: inline("Data", ["s3:GetObject", "s3:ListBucket"]),
  },
  support: {
    name: "Support",
    managedPolicies: ["arn:aws:iam::aws:policy/AWSSupportAccess"],
    tags: { team: "support", oncall: "yes" },
  },
};

type Target = { accounts: string[] } | { accountSelector: { matchLabels: Record<string, string> } };
const assignments: Record<string, { permissionSet: string } & Target> = {
  "eng-admin": { permissionSet: "admin", accountSelector: { matchLabels: { env: "dev" } } },
  "eng-read": { permissionSet: "read-only", accounts: accounts.map((a) => a.name) },
  "eng-billing": { permissionSet: "billing", accounts: ["acct-00", "acct-01"] },
  "eng-network": { permissionSet: "network", accountSelector: { matchLabels: { env: "prod" } } },
  "eng-data": {
    permissionSet: "data",
    accounts: ["acct-03", "acct-04", "acct-05", "acct-06", "acct-07"],
  },
  "eng-support": {
    permissionSet: "support",
    accounts: accounts.filter((_, i) => i % 2 === 0).map((a) => a.name),
  },
};

/** Which permission sets an account should have roles for, from the final specs. */
function desiredFor(account: { name: string; env: string }): string[] {
  return Object.values(assignments)
    .filter((a) =>
      "accounts" in a
        ? a.accounts.includes(account.name)
        : Object.entries(a.accountSelector.matchLabels).every(([k, v]) =>
            k === "env" ? account.env === v : false,
          ),
    )
    .map((a) => a.permissionSet)
    .sort();
}

/** Resolves once a process has logged a line containing `text`, or has exited. */
async function lineIn(p: ControllerProcess, text: string): Promise<void> {
  const running = () => p.child.exitCode === null && p.child.signalCode === null;
  while (running() && !p.timeline.some((l) => l.line.includes(text))) await sleep(20);
}

/** When (ms after `spawnedAt`) a run first logged a line containing `text`. */
function loggedAfter(p: ControllerProcess, spawnedAt: number, text: string): number | undefined {
  const at = p.timeline.find((l) => l.line.includes(text))?.at;
  return at === undefined ? undefined : at - spawnedAt;
}

function median(values: number[]): number | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? undefined : sorted[Math.floor(sorted.length / 2)];
}

const isIamWrite = (action: string) =>
  !/^(Get|List)/.test(action) &&
  action !== "AssumeRole" &&
  action !== "" &&
  action !== "GetCallerIdentity";

const decode = (doc: string | undefined) => JSON.parse(decodeURIComponent(doc ?? "{}")) as unknown;

describe(
  "chaos: an organisation converges through SIGKILLs, API server restarts and AWS faults",
  // A bound, not a measurement: a quiet 2-core machine needs far less; at load averages of
  // 25 to 30 (eight test suites at once) a passing run has taken up to 290 s.
  { timeout: 480_000 },
  () => {
    const env = useTestEnvironment({ crdFiles: operatorCrdFiles(), moto: true });
    const schedule = killSchedule(SEED);
    const faultRand = seededRandom(SEED ^ 0x5bd1e995);
    let proxy: FaultProxy;
    let kubeconfig: string;
    const runs: ControllerProcess[] = [];
    const iam = new Map<string, IAMClient>();

    beforeAll(async () => {
      const { moto } = env();
      await Promise.all(
        accounts.map(async (a) => iam.set(a.id, await moto.createMemberAccount(a.id))),
      );
      proxy = await FaultProxy.start(moto.endpoint);
      proxy.setChooser(() => {
        let r = faultRand();
        for (const [share, fault] of FAULT_SHARES) {
          if (r < share) return fault;
          r -= share;
        }
        return undefined;
      });
      const kc = env().kubeConfig();
      await createNamespace(kc, NS);
      kubeconfig = await chartControllerKubeconfig(env());
    });
    afterAll(async () => {
      for (const p of runs) p.kill("SIGKILL");
      await Promise.all(runs.map((p) => p.exited));
      // Undefined when the environment did not come up (beforeAll failed first).
      await (proxy as FaultProxy | undefined)?.stop();
    });

    /** Each run's start: spawned, modules loaded (first log line), caches, controllers. */
    const starts: { run: ControllerProcess; spawnedAt: number }[] = [];
    const startRun = async (lease = CHAOS_LEASE, extra: string[] = []) => {
      const spawnedAt = Date.now();
      const p = await startControllerProcess({
        kubeconfig,
        workDir: env().workDir,
        identity: `chaos-${String(runs.length)}`,
        namespace: NS,
        args: [
          "--portal-workload=false",
          ...lease,
          "--aws-connect-timeout=1s",
          "--aws-request-timeout=1s",
          ...extra,
        ],
        env: motoControllerEnv(env().moto.managementCredentials, proxy.url),
      });
      runs.push(p);
      starts.push({ run: p, spawnedAt });
      return p;
    };

    async function createOrganisation(objects: ReturnType<typeof customObjects>) {
      await objects.create("identitycenters", "IdentityCenter", "default", {
        portal: { hostname: "sso.example.com" },
      });
      await objects.create("users", "User", "alice", {
        userName: "alice",
        email: "alice@example.com",
      });
      await objects.create("groups", "Group", "engineers", { members: ["alice"] });
      for (const [name, spec] of Object.entries(permissionSets))
        await objects.create("permissionsets", "PermissionSet", name, spec);
      for (const a of accounts) {
        await objects.create("accounts", "Account", a.name, {
          accountId: a.id,
          deletionPolicy: "Delete",
        });
        await objects.setLabels("accounts", a.name, { env: a.env });
      }
      for (const [name, spec] of Object.entries(assignments))
        await objects.create("accountassignments", "AccountAssignment", name, {
          principal: { kind: "Group", name: "engineers" },
          ...spec,
        });
    }

    /** Deletions and edits made while the chaos goes on: roles to remove, policies to change. */
    async function changeOrganisation(objects: ReturnType<typeof customObjects>) {
      await objects.delete("accountassignments", "eng-billing");
      delete assignments["eng-billing"];
      const network = inline("Network", ["ec2:Describe*", "ec2:GetConsoleOutput"]);
      await objects.patchSpec("permissionsets", "network", { inlinePolicy: network });
      (permissionSets.network as PermissionSetSpec).inlinePolicy = network;
      const tags = { team: "platform", tier: "1" };
      await objects.patchSpec("permissionsets", "read-only", { tags });
      (permissionSets["read-only"] as PermissionSetSpec).tags = tags;
      await objects.setLabels("accounts", "acct-04", { env: "dev" });
      (accounts[4] as { env: string }).env = "dev";
    }

    async function allReady(objects: ReturnType<typeof customObjects>): Promise<string[]> {
      const notReady: string[] = [];
      const kinds: [string, string[]][] = [
        ["identitycenters", ["default"]],
        ["users", ["alice"]],
        ["groups", ["engineers"]],
        ["permissionsets", Object.keys(permissionSets)],
        ["accounts", accounts.map((a) => a.name)],
        ["accountassignments", Object.keys(assignments)],
      ];
      for (const [plural, names] of kinds) {
        for (const name of names) {
          const obj = await objects.get(plural, name);
          const ready = obj.status?.conditions?.find((c) => c.type === "Ready");
          // Ready for the current spec, not for one the changes replaced.
          const current =
            ready?.observedGeneration ===
            (obj as { metadata?: { generation?: number } }).metadata?.generation;
          if (ready?.status !== "True" || !current)
            notReady.push(`${plural}/${name}: ${ready?.reason ?? "no status"}`);
        }
      }
      return notReady;
    }

    it(`converges 10 accounts x 6 permission sets through ${String(KILLS)} SIGKILLs, 2 API server restarts and injected throttling, 5xx, resets, lost responses and black holes (seed ${String(SEED)})`, async () => {
      console.log(`chaos seed ${String(SEED)} (IDC_CHAOS_SEED=${String(SEED)} repeats this run)`);
      const objects = customObjects(env().kubeConfig());
      await createOrganisation(objects);
      const started = Date.now();
      const killedAt: string[] = [];
      let exitedOnTheirOwn = 0;
      /** A run spawned while the previous one led (a second replica, already warm). */
      const spare: { standby?: Promise<ControllerProcess> } = {};
      /** The standby, if one was spawned, else a fresh run: the next run in either case. */
      const nextRun = () => {
        const { standby } = spare;
        delete spare.standby;
        return standby ?? startRun();
      };
      /** When the current run's turn began: its spawn, or its predecessor's exit. */
      let turnFrom = Date.now();
      for (const [i, moment] of schedule.entries()) {
        const kill = i + 1;
        const run = await nextRun();
        let turnOver = false;
        const leading = lineIn(run, '"controllers started"');
        if (moment.standbyNext)
          // The next run loads, lists and waits for the Lease while this one leads.
          void leading.then(() => {
            if (!turnOver) spare.standby = startRun();
          });
        const exitedBySelf = await Promise.race([
          run.exited.then(() => true),
          (moment.phase === "starting"
            ? sleep(Math.max(0, turnFrom + moment.afterMs - Date.now()))
            : leading.then(() => sleep(moment.afterMs))
          ).then(() => false),
        ]);
        turnOver = true;
        if (exitedBySelf) exitedOnTheirOwn++;
        else run.kill("SIGKILL");
        await run.exited;
        turnFrom = Date.now();
        killedAt.push(
          `${moment.phase}+${String(moment.afterMs)}ms, then ${spare.standby ? "standby" : "restart"}${exitedBySelf ? " (had exited)" : ""}`,
        );
        if (kill === CHANGE_AFTER) await changeOrganisation(objects);
        if (moment.apiServerRestartAfterMs !== undefined) {
          // The next run starts (or carries on as standby), the API server goes away under it
          // and comes back; then that run is killed too.
          const next = await nextRun();
          await sleep(moment.apiServerRestartAfterMs);
          await env().apiServer.restart();
          await sleep(500);
          next.kill("SIGKILL");
          await next.exited;
          turnFrom = Date.now();
        }
      }
      if (spare.standby) {
        const left = await spare.standby;
        left.kill("SIGKILL");
        await left.exited;
      }
      const chaosMs = Date.now() - started;

      const last = await startRun(FINAL_LEASE, ["--resync-period=3s"]);
      await expect.poll(() => allReady(objects), { timeout: 120_000, interval: 500 }).toEqual([]);
      const convergedMs = Date.now() - started;

      // Converged is also steady: further full re-checks of every account write nothing, to
      // IAM or to any status.
      const accountReconciles = async () =>
        (await fetch(`${last.healthUrl}/metrics`).then((r) => r.text()))
          .split("\n")
          .filter((l) => l.startsWith('idc_reconcile_total{controller="account"'))
          .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
      const versions = async () => {
        const out: string[] = [];
        for (const plural of [
          "identitycenters",
          "users",
          "groups",
          "permissionsets",
          "accounts",
          "accountassignments",
        ])
          for (const o of await objects.list(plural))
            out.push(`${plural}/${o.metadata.name}@${o.metadata.resourceVersion}`);
        return out.sort();
      };
      const settledAt = await accountReconciles();
      await expect
        .poll(accountReconciles, { timeout: 30_000, interval: 250 })
        .toBeGreaterThanOrEqual(settledAt + accounts.length);
      const writesBefore = proxy.count(isIamWrite);
      const versionsBefore = await versions();
      const checkedFrom = await accountReconciles();
      await expect
        .poll(accountReconciles, { timeout: 30_000, interval: 250 })
        .toBeGreaterThanOrEqual(checkedFrom + 2 * accounts.length);
      expect(proxy.count(isIamWrite)).toBe(writesBefore);
      expect(await versions()).toEqual(versionsBefore);
      last.kill("SIGTERM");
      await last.exited;

      // What moto holds, read directly (not through the proxy).
      for (const account of accounts) {
        const client = iam.get(account.id);
        if (!client) throw new Error(`no IAM client for ${account.id}`);
        const providers =
          (await client.send(new ListSAMLProvidersCommand({}))).SAMLProviderList ?? [];
        expect(providers.map((p) => p.Arn)).toEqual([
          `arn:aws:iam::${account.id}:saml-provider/${samlProviderName("default")}`,
        ]);
        const listed =
          (await client.send(new ListRolesCommand({ PathPrefix: "/identitycenter/" }))).Roles ?? [];
        const desired = desiredFor(account);
        const expectedNames = desired
          .map((ps) => roleName("default", ps, permissionSets[ps]?.name ?? ps))
          .sort();
        // Every desired role exactly once, and no owned role that is not desired.
        expect(listed.map((r) => r.RoleName).sort(), account.name).toEqual(expectedNames);
        for (const ps of desired) {
          const spec = permissionSets[ps] as PermissionSetSpec;
          const name = roleName("default", ps, spec.name);
          const role = (await client.send(new GetRoleCommand({ RoleName: name }))).Role;
          expect(decode(role?.AssumeRolePolicyDocument), name).toMatchObject({
            Statement: [
              {
                Effect: "Allow",
                Principal: {
                  Federated: `arn:aws:iam::${account.id}:saml-provider/${samlProviderName("default")}`,
                },
                Action: ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                Condition: { StringEquals: { "SAML:aud": "https://signin.aws.amazon.com/saml" } },
              },
            ],
          });
          expect(role?.MaxSessionDuration, name).toBe(
            spec.sessionDuration === "PT4H" ? 14400 : 3600,
          );
          const tags: Record<string, string | undefined> = Object.fromEntries(
            (role?.Tags ?? []).map((t): [string, string | undefined] => [t.Key ?? "", t.Value]),
          );
          expect(tags, name).toEqual({
            ...spec.tags,
            "identitycenter.dev/managed-by": "identity-center-operator",
            "identitycenter.dev/instance": "default",
            "identitycenter.dev/permission-set": ps,
          });
          const attached = await client.send(
            new ListAttachedRolePoliciesCommand({ RoleName: name }),
          );
          expect((attached.AttachedPolicies ?? []).map((p) => p.PolicyArn).sort(), name).toEqual(
            [...(spec.managedPolicies ?? [])].sort(),
          );
          const inlineNames = (await client.send(new ListRolePoliciesCommand({ RoleName: name })))
            .PolicyNames;
          expect(inlineNames, name).toEqual(spec.inlinePolicy ? ["IdentityCenterInline"] : []);
          if (spec.inlinePolicy) {
            const doc = await client.send(
              new GetRolePolicyCommand({ RoleName: name, PolicyName: "IdentityCenterInline" }),
            );
            expect(decode(doc.PolicyDocument), name).toMatchObject(spec.inlinePolicy);
          }
        }
      }

      // No run was refused anything by the API server (outside its restarts).
      for (const p of runs)
        await assertNoForbiddenRequests(p.logFile, env().apiServer.startingPeriods);

      const byFault = new Map<string, number>();
      for (const f of proxy.history) {
        const key = f.fault === "error" ? `error ${f.code ?? ""}` : f.fault;
        byFault.set(key, (byFault.get(key) ?? 0) + 1);
      }
      const requests = proxy.forwarded + proxy.history.length;
      const phase = (text: string) =>
        median(
          starts.flatMap(({ run, spawnedAt }) => {
            const ms = loggedAfter(run, spawnedAt, text);
            return ms === undefined ? [] : [ms];
          }),
        );
      console.log(
        JSON.stringify(
          {
            seed: SEED,
            kills: KILLS,
            exitedOnTheirOwn,
            killedAt,
            apiServerRestarts: API_RESTARTS_AFTER.size,
            controllerRuns: runs.length,
            medianStartMs: {
              loaded: phase("serving /metrics"),
              cachesSynced: phase('"caches synced"'),
              leading: phase('"became leader"'),
              controllersStarted: phase('"controllers started"'),
            },
            chaosPhaseMs: chaosMs,
            convergedAfterMs: convergedMs,
            awsRequests: requests,
            passedToMoto: proxy.forwarded,
            injected: Object.fromEntries(byFault),
            loadAverage: loadavg().map((l) => l.toFixed(2)),
          },
          null,
          1,
        ),
      );
      const kinds = new Set(proxy.history.map((f) => f.fault));
      for (const kind of ["error", "reset", "lostResponse", "blackHole"])
        expect(kinds.has(kind as Fault["kind"]), kind).toBe(true);
      expect(requests).toBeLessThan(REQUEST_BUDGET);
    });
  },
);
