import { readFile, writeFile } from "node:fs/promises";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { chartControllerKubeconfig } from "../../harness/chart.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import {
  startControllerProcess,
  type ControllerProcess,
} from "../../harness/controller-process.ts";
import { fakeTimeEnv } from "../../harness/faketime.ts";
import { createNamespace, customObjects, readyOf } from "../../harness/k8s.ts";
import { TcpProxy } from "../../harness/tcp-proxy.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { waitFor } from "../../harness/wait.ts";

const NS = "identity-center-operator";
const LEASE = "identity-center-operator";
// Shorter than the defaults (15 s / 10 s / 2 s), as the chaos test's last run: every handover
// here waits out a Lease, and the behaviour does not depend on the durations.
const LEASE_ARGS = ["--lease-duration=6s", "--renew-deadline=4s", "--retry-period=1s"];
const LEASE_DURATION_MS = 6000;

describe("leader election between two idc controller processes", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles() });
  const running: ControllerProcess[] = [];
  // Both processes run as the Helm chart's ServiceAccount, with the chart's RBAC.
  let kubeconfig: string;

  beforeAll(async () => {
    await createNamespace(env().kubeConfig(), NS);
    kubeconfig = await chartControllerKubeconfig(env());
  });
  const proxies: TcpProxy[] = [];
  afterEach(async () => {
    // stop() also fails the test if the API server refused either process anything.
    const stopped = await Promise.allSettled(running.splice(0).map((p) => p.stop("SIGKILL")));
    await Promise.all(proxies.splice(0).map((p) => p.stop()));
    for (const result of stopped) if (result.status === "rejected") throw result.reason;
  });

  const holder = async (lease = LEASE) =>
    (
      await env()
        .kubeConfig()
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ name: lease, namespace: NS })
    ).spec?.holderIdentity ?? "";

  async function startPair(
    prefix: string,
    lease = LEASE,
  ): Promise<[ControllerProcess, ControllerProcess]> {
    const start = (identity: string) =>
      startControllerProcess({
        kubeconfig,
        workDir: env().workDir,
        identity,
        namespace: NS,
        args: [...LEASE_ARGS, `--lease-name=${lease}`],
      });
    // Started side by side, as a Deployment's two pods are.
    const pair = await Promise.all([start(`${prefix}-a`), start(`${prefix}-b`)]);
    running.push(...pair);
    await waitFor("a leader", async () => (await holder(lease)).startsWith(prefix));
    return pair;
  }

  /** Exactly one of the two says it leads, and it is the lease holder. */
  async function leaderOf(
    pair: ControllerProcess[],
    lease = LEASE,
  ): Promise<{ leader: ControllerProcess; standby: ControllerProcess }> {
    await waitFor("both processes to report", async () => {
      const flags = await Promise.all(pair.map((p) => p.metric("idc_leader_election_is_leader")));
      return flags.filter((f) => f === 1).length === 1 && flags.filter((f) => f === 0).length === 1;
    });
    const current = await holder(lease);
    const leader = pair.find((p) => p.identity === current);
    const standby = pair.find((p) => p.identity !== current);
    if (!leader || !standby) throw new Error(`lease holder ${current} is neither process`);
    expect(await leader.metric("idc_leader_election_is_leader")).toBe(1);
    expect(await standby.metric("idc_leader_election_is_leader")).toBe(0);
    return { leader, standby };
  }

  it("elects one leader; only the leader reconciles; SIGKILL of the leader hands over within the lease duration", async () => {
    const pair = await startPair("kill");
    const { leader, standby } = await leaderOf(pair);
    const objects = customObjects(env().kubeConfig());
    await objects.create("users", "User", "erin", { userName: "erin", email: "erin@example.com" });
    await expect
      .poll(async () => readyOf(await objects.get("users", "erin"))?.status, { timeout: 15_000 })
      .toBe("True");
    // The counter moves when the reconcile returns, just after the status write the poll saw.
    await expect
      .poll(() => leader.metric('idc_reconcile_total{controller="user",result="success"}'), {
        timeout: 5000,
      })
      .toBeGreaterThan(0);
    expect(
      await standby.metric('idc_reconcile_total{controller="user",result="success"}'),
    ).toBeUndefined();

    const killedAt = Date.now();
    leader.kill("SIGKILL");
    await waitFor(
      "the standby to take the lease",
      async () => (await holder()) === standby.identity,
      30_000,
    );
    const handover = Date.now() - killedAt;
    // The standby retries when the dead leader's lease runs out; allow 1 s for the round trip.
    expect(handover).toBeLessThanOrEqual(LEASE_DURATION_MS + 1000);
    await expect
      .poll(() => standby.metric("idc_leader_election_is_leader"), { timeout: 5000 })
      .toBe(1);

    // The new leader reconciles.
    await objects.create("users", "User", "frank", {
      userName: "frank",
      email: "frank@example.com",
    });
    await expect
      .poll(async () => readyOf(await objects.get("users", "frank"))?.status, { timeout: 15_000 })
      .toBe("True");
  });

  it("SIGTERM releases the lease and the standby takes over within 2 s; the leader exits 0", async () => {
    // A Lease of its own: the first test's killed leader may still hold the default one.
    const pair = await startPair("term", "term-lease");
    const { leader, standby } = await leaderOf(pair, "term-lease");
    const termAt = Date.now();
    leader.kill("SIGTERM");
    await waitFor(
      "the standby to take the lease",
      async () => (await holder("term-lease")) === standby.identity,
      10_000,
    );
    expect(Date.now() - termAt).toBeLessThanOrEqual(2000);
    expect(await leader.exited).toBe(0);
  });

  /**
   * When a process could reconcile, by the test's clock: from its "controllers started" line
   * to its "controllers stopped" line or its exit (still open if it runs on).
   */
  function reconcilingWindows(p: ControllerProcess): [number, number][] {
    const windows: [number, number][] = [];
    for (const { at, line } of p.timeline) {
      const open = windows.at(-1);
      if (line.includes('"controllers started"')) windows.push([at, Infinity]);
      else if (
        open &&
        open[1] === Infinity &&
        (line.includes('"controllers stopped') || line.includes('"process exited"'))
      )
        open[1] = at;
    }
    return windows;
  }

  const reconcileTimes = (p: ControllerProcess) =>
    p.timeline.filter((l) => l.line.includes('"msg":"reconciling"')).map((l) => l.at);

  it("never lets two replicas reconcile at once: clocks 30 s apart, and the leader's renew calls hang (black-holed API connection)", async () => {
    const objects = customObjects(env().kubeConfig());
    // The first replica reaches the API server through a proxy the test can black-hole.
    const proxy = await TcpProxy.start(env().apiServer.port);
    proxies.push(proxy);
    const viaProxy = `${kubeconfig}-via-proxy`;
    await writeFile(
      viaProxy,
      (await readFile(kubeconfig, "utf8")).replace(
        `https://127.0.0.1:${String(env().apiServer.port)}`,
        `https://127.0.0.1:${String(proxy.port)}`,
      ),
    );
    // A Lease of its own: the other tests' killed leaders may still hold theirs.
    const args = ["--lease-name=clock-lease", ...LEASE_ARGS];
    const a = await startControllerProcess({
      kubeconfig: viaProxy,
      workDir: env().workDir,
      identity: "clock-a",
      namespace: NS,
      args,
    });
    running.push(a);
    await waitFor(
      "clock-a to lead",
      async () => (await holder("clock-lease")) === "clock-a",
      60_000,
    );
    // The second replica's wall clock is 30 s ahead: by the holder's renewTime, the lease
    // it sees has long expired.
    const b = await startControllerProcess({
      kubeconfig,
      workDir: env().workDir,
      identity: "clock-b",
      namespace: NS,
      args,
      env: fakeTimeEnv("+30s"),
    });
    running.push(b);
    await waitFor("clock-b to sync its caches", () => b.ready());

    let made = 0;
    const reconciledUser = async () => {
      const name = `user-${String(++made)}`;
      await objects.create("users", "User", name, {
        userName: name,
        email: `${name}@example.com`,
      });
      return name;
    };
    // Over three renew periods, the skewed replica leaves the lease alone; users reconcile.
    for (let i = 0; i < 3; i++) {
      const name = await reconciledUser();
      await expect
        .poll(async () => readyOf(await objects.get("users", name))?.status, { timeout: 15_000 })
        .toBe("True");
      await new Promise((r) => setTimeout(r, 2000));
    }
    expect(await holder("clock-lease")).toBe("clock-a");
    expect(await b.metric("idc_leader_election_is_leader")).toBe(0);

    // The leader's connection to the API server goes silent: its renew calls hang.
    proxy.blackHole();
    await waitFor(
      "clock-b to take the lease",
      async () => (await holder("clock-lease")) === "clock-b",
      40_000,
    );
    const name = await reconciledUser();
    await expect
      .poll(async () => readyOf(await objects.get("users", name))?.status, { timeout: 15_000 })
      .toBe("True");
    // The old leader stops by itself (it exits to restart clean); a leader that hangs on
    // would leave its window open, which the checks below report.
    await Promise.race([a.exited, new Promise((r) => setTimeout(r, 15_000))]);

    const windowsA = reconcilingWindows(a);
    const windowsB = reconcilingWindows(b);
    expect(windowsA).toHaveLength(1);
    expect(windowsB).toHaveLength(1);
    const [[, aEnd]] = windowsA as [[number, number]];
    const [[bStart]] = windowsB as [[number, number]];
    // At no moment could both reconcile: the old leader stopped before the new one started.
    expect(aEnd).toBeLessThan(bStart);
    for (const at of reconcileTimes(a)) expect(at).toBeLessThanOrEqual(aEnd);
    for (const at of reconcileTimes(b)) expect(at).toBeGreaterThanOrEqual(bStart);
    expect(reconcileTimes(a).length).toBeGreaterThan(0);
    expect(reconcileTimes(b).length).toBeGreaterThan(0);
    expect(a.child.exitCode).toBe(1);
    expect(a.timeline.some((l) => l.line.includes("could not renew the lease"))).toBe(true);
  }, 120_000);
});
