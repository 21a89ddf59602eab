// Benchmark (not a test): a Monday-morning storm of password sign-ins against the real portal
// process (`idc portal` from dist/, as the image runs it) and a real kube-apiserver.
//
//   npm run bench:login-storm
//   BENCH_CLIENTS=64 BENCH_SECONDS=30 BENCH_HASH_CONCURRENCY=2 npm run bench:login-storm
//
// BENCH_CLIENTS clients (default 64) each sign in again and again for BENCH_SECONDS (default 30):
// GET /login (form and CSRF cookie), then POST /login as one of BENCH_USERS users (MFA off), from
// an address of its own (X-Forwarded-For, as the ingress adds it). A 503 is waited out for its
// Retry-After, as a browser user would. The portal runs with the Deployment's settings: the
// image's heap caps, UV_THREADPOOL_SIZE and --hash-concurrency as the controller sets them.
//
// Raw Argon2id verifications are measured in the same run at the same cost, with as many in
// flight as the portal's hash slots and the same UV_THREADPOOL_SIZE, in a process of their own,
// before and after the storm. The machine is shared, so both are also counted per CPU-second of
// their process (a neighbour's load hardly changes that): sign-ins per portal CPU-second is what
// one core of a pod signs in, and its ratio to raw verifications per CPU-second is the share of
// the portal's CPU that goes to the password hash itself.
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { availableParallelism, loadavg } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { CoreV1Api } from "@kubernetes/client-node";
import { CredentialStore } from "../src/adapters/k8s/credential-store.ts";
import { DEFAULT_PASSWORD_HASHING } from "../src/api/v1alpha1/identity-center.ts";
import {
  defaultCredentialsNamespace,
  sessionSecretName,
  signingSecretName,
} from "../src/plan/naming.ts";
import { hashPassword } from "../src/portal/password.ts";
import { createSigningIdentity } from "../src/saml/signing-identity.ts";
import { spawnCli } from "../test/harness/cli-process.ts";
import { createOperatorNamespaces, customObjects } from "../test/harness/k8s.ts";
import { repoRoot } from "../test/harness/paths.ts";
import { freePort } from "../test/harness/ports.ts";
import { waitFor } from "../test/harness/wait.ts";
import { inParallel, peakRssMiB, startBenchEnvironment } from "./support.ts";

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 64);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const USERS = Number(process.env.BENCH_USERS ?? CLIENTS);
// The portal's "auto" without a memory limit: one per CPU.
const HASH_CONCURRENCY = Number(process.env.BENCH_HASH_CONCURRENCY ?? availableParallelism());
const HASH_QUEUE = Number(process.env.BENCH_HASH_QUEUE ?? 32);
const RAW_SECONDS = Number(process.env.BENCH_RAW_SECONDS ?? Math.max(3, SECONDS / 6));
// What the Deployment sets (portal-workload.ts) and the image sets (Dockerfile).
const UV_THREADPOOL_SIZE = String(Math.max(4, HASH_CONCURRENCY));
const NODE_OPTIONS = "--max-old-space-size=160 --max-semi-space-size=8";
const NAMESPACE = "identity-center-operator";
const PASSWORD = "correct horse battery staple";
const PARAMS = DEFAULT_PASSWORD_HASHING;

/** utime + stime of a process, in ms (Linux /proc; clock ticks are 100 Hz). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${String(pid)}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU ms of a process's threads by thread name (libuv's pool, V8's workers, the main thread). */
async function cpuMsByThread(pid: number): Promise<Record<string, number>> {
  const byName: Record<string, number> = {};
  for (const tid of await readdir(`/proc/${String(pid)}/task`)) {
    try {
      const dir = `/proc/${String(pid)}/task/${tid}`;
      const name = tid === String(pid) ? "main" : (await readFile(`${dir}/comm`, "utf8")).trim();
      const stat = await readFile(`${dir}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      byName[name] = (byName[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      // the thread ended meanwhile
    }
  }
  return byName;
}

interface Raw {
  verifications: number;
  wallMs: number;
  cpuMs: number;
}

/** Raw verifications in a process of their own, `HASH_CONCURRENCY` in flight. */
function rawArgon2(stored: string): Promise<Raw> {
  const script = `
    import { verify } from "@node-rs/argon2";
    const [stored, password, inFlight, ms] = process.argv.slice(1);
    let verifications = 0;
    await verify(stored, password);
    const cpu = process.cpuUsage();
    const start = performance.now();
    await Promise.all(Array.from({ length: Number(inFlight) }, async () => {
      while (performance.now() - start < Number(ms)) {
        if (!(await verify(stored, password))) throw new Error("the password did not verify");
        verifications++;
      }
    }));
    const used = process.cpuUsage(cpu);
    console.log(JSON.stringify({
      verifications,
      wallMs: performance.now() - start,
      cpuMs: (used.user + used.system) / 1000,
    }));`;
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        script,
        stored,
        PASSWORD,
        String(HASH_CONCURRENCY),
        String(RAW_SECONDS * 1000),
      ],
      {
        cwd: repoRoot,
        env: { ...process.env, UV_THREADPOOL_SIZE },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.once("close", (code) => {
      if (code === 0) resolve(JSON.parse(out) as Raw);
      else reject(new Error(`raw Argon2id measurement exited ${String(code)}`));
    });
  });
}

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN);

const env = await startBenchEnvironment();
try {
  const kc = env.kubeConfig();
  // Credential records live in a namespace of their own, beside the operator's.
  await createOperatorNamespaces(kc, NAMESPACE);
  const objects = customObjects(kc);
  await objects.create("identitycenters", "IdentityCenter", "default", {
    portal: { hostname: "sso.example.com", externalUrl: "http://127.0.0.1:8080" },
    signIn: { mfa: "disabled", lockoutThreshold: 100 },
  });
  const signing = createSigningIdentity("sso.example.com", new Date());
  await kc.makeApiClient(CoreV1Api).createNamespacedSecret({
    namespace: NAMESPACE,
    body: {
      metadata: { name: signingSecretName("default") },
      type: "kubernetes.io/tls",
      stringData: { "tls.key": signing.privateKeyPem, "tls.crt": signing.certificatePem },
    },
  });
  // The controller creates the session key in a real install; the bench runs no controller.
  await kc.makeApiClient(CoreV1Api).createNamespacedSecret({
    namespace: NAMESPACE,
    body: {
      metadata: { name: sessionSecretName("default") },
      type: "Opaque",
      stringData: { key: randomBytes(32).toString("base64") },
    },
  });
  const userName = (i: number) => `user-${String(i).padStart(5, "0")}`;
  // One hash for every user: the salt does not change the cost of checking it.
  const stored = await hashPassword(PASSWORD, PARAMS);
  // A record belongs to its User's uid: the store is told each User as it is created.
  const owners = new Map<string, { name: string; uid: string }>();
  const credentials = new CredentialStore(kc, defaultCredentialsNamespace(NAMESPACE), (name) =>
    owners.get(name),
  );
  await inParallel([...Array(USERS).keys()], 8, async (i) => {
    const created = (await objects.create("users", "User", userName(i), {
      userName: userName(i),
      email: `${userName(i)}@example.com`,
    })) as { metadata?: { uid?: string } };
    owners.set(userName(i), { name: userName(i), uid: created.metadata?.uid ?? "" });
    await credentials.update(userName(i), (r) => ({ ...r, passwordHash: stored }));
  });

  const port = await freePort();
  const metricsPort = await freePort();
  const portal = spawnCli(
    [
      "portal",
      `--kubeconfig=${env.kubeconfigPath}`,
      `--namespace=${NAMESPACE}`,
      `--listen=127.0.0.1:${String(port)}`,
      `--metrics-addr=127.0.0.1:${String(metricsPort)}`,
      `--hash-concurrency=${String(HASH_CONCURRENCY)}`,
      `--hash-queue=${String(HASH_QUEUE)}`,
      "--log-level=warn",
    ],
    {
      logFile: path.join(env.workDir, "portal.log"),
      entry: path.join(repoRoot, "dist/cli.js"),
      env: {
        // BENCH_PORTAL_NODE_OPTIONS adds flags, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
        NODE_OPTIONS: `${NODE_OPTIONS} ${process.env.BENCH_PORTAL_NODE_OPTIONS ?? ""}`.trim(),
        UV_THREADPOOL_SIZE,
      },
    },
  );
  const pid = portal.child.pid ?? 0;
  let exit: string | undefined;
  void portal.exited.then((code) => {
    exit = `exited ${String(code)} (${String(portal.child.signalCode)})`;
  });
  const base = `http://127.0.0.1:${String(port)}`;

  let address = 0;
  /** One full sign-in from a fresh browser; its status, or the error that stopped it. */
  async function signIn(i: number): Promise<number | string> {
    try {
      // An address of its own: a company's people, not one client (the per-address throttle).
      address++;
      const forwarded = `10.${String((address >> 16) & 255)}.${String((address >> 8) & 255)}.${String(address & 255)}`;
      const page = await fetch(`${base}/login`, { headers: { "x-forwarded-for": forwarded } });
      const html = await page.text();
      if (page.status !== 200) return page.status;
      const cookie = (page.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
      const res = await fetch(`${base}/login`, {
        method: "POST",
        redirect: "manual",
        headers: {
          cookie,
          "content-type": "application/x-www-form-urlencoded",
          "x-forwarded-for": forwarded,
        },
        body: new URLSearchParams({ csrf, username: userName(i % USERS), password: PASSWORD }),
      });
      await res.arrayBuffer();
      if (res.status === 303 && res.headers.get("location") !== "/") return "redirected elsewhere";
      return res.status;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  }

  await waitFor(
    "the portal to sign its first user in",
    async () => (await signIn(0)) === 303,
    120_000,
  );
  // Every user once, as many at a time as there are hash slots: caches, JIT, connections.
  await inParallel([...Array(USERS).keys()], HASH_CONCURRENCY, async (i) => {
    const result = await signIn(i);
    if (result !== 303) throw new Error(`warming up, ${userName(i)} got ${String(result)}`);
  });

  const rawBefore = await rawArgon2(stored);
  const latencies: number[] = [];
  const statuses = new Map<number | string, number>();
  const signedInSoFar = () => statuses.get(303) ?? 0;
  const load = loadavg();
  const cpuBefore = await cpuMs(pid);
  const threadsBefore = await cpuMsByThread(pid);
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let n = 0; performance.now() < deadline && exit === undefined; n++) {
        const began = performance.now();
        const result = await signIn(client + n * CLIENTS);
        statuses.set(result, (statuses.get(result) ?? 0) + 1);
        if (result === 303) latencies.push(performance.now() - began);
        // Retry-After is 1 s.
        else if (result === 503) await new Promise((r) => setTimeout(r, 1000));
      }
    }),
  );
  const wallMs = performance.now() - start;
  const portalCpuMs = exit === undefined ? (await cpuMs(pid)) - cpuBefore : NaN;
  const threadsAfter = exit === undefined ? await cpuMsByThread(pid) : {};
  // Where the portal's CPU went, per sign-in: the hash runs on libuv's pool.
  const msPerSignIn: Record<string, number> = Object.fromEntries(
    Object.entries(threadsAfter)
      .map(([name, ms]): [string, number] => [
        name,
        (ms - (threadsBefore[name] ?? 0)) / Math.max(1, signedInSoFar()),
      ])
      .filter(([, ms]) => ms > 0.05)
      .map(([name, ms]) => [name, Number(ms.toFixed(1))]),
  );
  const loadAfter = loadavg();
  const peakRss = exit === undefined ? await peakRssMiB(pid) : NaN;
  const died = exit;
  const rawAfter = await rawArgon2(stored);

  const count = (pred: (k: number | string) => boolean) =>
    [...statuses].filter(([k]) => pred(k)).reduce((sum, [, v]) => sum + v, 0);
  const total = count(() => true);
  const signedIn = count((k) => k === 303);
  const refused = count((k) => k === 503);
  const otherErrors = Object.fromEntries([...statuses].filter(([k]) => k !== 303 && k !== 503));
  const raw = {
    verifications: rawBefore.verifications + rawAfter.verifications,
    wallMs: rawBefore.wallMs + rawAfter.wallMs,
    cpuMs: rawBefore.cpuMs + rawAfter.cpuMs,
  };
  const rawPerCpuSecond = (raw.verifications * 1000) / raw.cpuMs;
  const signInsPerCpuSecond = (signedIn * 1000) / portalCpuMs;
  latencies.sort((a, b) => a - b);
  portal.child.kill("SIGTERM");
  await portal.exited;
  const round = (n: number, digits = 1) => Number(n.toFixed(digits));
  console.log(
    JSON.stringify({
      clients: CLIENTS,
      seconds: round(wallMs / 1000),
      users: USERS,
      argon2id: PARAMS,
      hashConcurrency: HASH_CONCURRENCY,
      hashQueue: HASH_QUEUE,
      uvThreadpoolSize: Number(UV_THREADPOOL_SIZE),
      cpus: availableParallelism(),
      loadAverage1m: [round(load[0] ?? NaN, 2), round(loadAfter[0] ?? NaN, 2)],
      signIns: signedIn,
      signInsPerSecond: round((signedIn * 1000) / wallMs),
      portalCpuCores: round(portalCpuMs / wallMs, 2),
      signInsPerCoreSecond: round(signInsPerCpuSecond),
      portalCpuMsPerSignInByThread: msPerSignIn,
      rawVerificationsPerSecond: round((raw.verifications * 1000) / raw.wallMs),
      rawVerificationsPerCoreSecond: round(rawPerCpuSecond),
      signInToRawRatio: round(signInsPerCpuSecond / rawPerCpuSecond, 2),
      p50Ms: Math.round(percentile(latencies, 0.5)),
      p99Ms: Math.round(percentile(latencies, 0.99)),
      share503: round(total === 0 ? 0 : refused / total, 3),
      peakRssMiB: round(peakRss),
      // Killed by a signal it did not get from us (the OOM killer sends SIGKILL).
      oom: died === undefined ? 0 : 1,
      otherErrors,
      ...(died === undefined ? {} : { portal: died }),
    }),
  );
} finally {
  await env.stop();
}
