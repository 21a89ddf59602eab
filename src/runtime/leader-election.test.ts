import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { FakeClock } from "./clock.ts";
import {
  LeaderElector,
  type LeaderRecord,
  type LeaseStore,
  type ObservedLease,
} from "./leader-election.ts";

/** One Lease in memory with the API server's compare-and-swap on resourceVersion. */
class MemoryLease {
  lease: ObservedLease | undefined;
  private version = 0;
  writes: { at: number; record: LeaderRecord }[] = [];
  private readonly clock: FakeClock;
  constructor(clock: FakeClock) {
    this.clock = clock;
  }

  write(record: LeaderRecord, expected: string | undefined): ObservedLease {
    if (
      expected === undefined ? this.lease !== undefined : this.lease?.resourceVersion !== expected
    )
      throw Object.assign(new Error("conflict"), { code: 409 });
    this.version++;
    this.lease = { record: { ...record }, resourceVersion: String(this.version) };
    this.writes.push({ at: this.clock.now(), record: { ...record } });
    return this.lease;
  }
}

/** A replica's view of the Lease; `hang` makes its calls never answer (until aborted). */
class ReplicaStore implements LeaseStore {
  hang = false;
  calls = 0;
  aborted = 0;
  private readonly memory: MemoryLease;
  constructor(memory: MemoryLease) {
    this.memory = memory;
  }

  private run<T>(signal: AbortSignal, fn: () => T): Promise<T> {
    this.calls++;
    if (!this.hang) {
      return new Promise<T>((resolve) => {
        resolve(fn()); // a throw in fn rejects
      });
    }
    return new Promise<T>((_, reject) => {
      signal.addEventListener("abort", () => {
        this.aborted++;
        reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
      });
    });
  }
  get(signal: AbortSignal) {
    return this.run(signal, () => this.memory.lease);
  }
  create(record: LeaderRecord, signal: AbortSignal) {
    return this.run(signal, () => this.memory.write(record, undefined));
  }
  update(record: LeaderRecord, resourceVersion: string, signal: AbortSignal) {
    return this.run(signal, () => this.memory.write(record, resourceVersion));
  }
}

interface Replica {
  elector: LeaderElector;
  store: ReplicaStore;
  leading: [number, number][];
  stoppedWhy: string[];
}

function replica(name: string, memory: MemoryLease, clock: FakeClock, wallOffsetMs = 0): Replica {
  const store = new ReplicaStore(memory);
  const leading: [number, number][] = [];
  const stoppedWhy: string[] = [];
  const elector = new LeaderElector({
    store,
    identity: name,
    log: pino({ level: "silent" }),
    clock,
    // Its wall clock may be off; election must not care.
    wallClock: () => new Date(Date.UTC(2026, 0, 1) + clock.now() + wallOffsetMs),
    onStartedLeading: () => leading.push([clock.now(), Infinity]),
    onStoppedLeading: (why) => {
      const last = leading.at(-1);
      if (last) last[1] = clock.now();
      stoppedWhy.push(why);
    },
  });
  return { elector, store, leading, stoppedWhy };
}

/** Advances fake time in small steps, letting promises settle between them. */
async function run(clock: FakeClock, ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
}

const overlaps = (a: [number, number][], b: [number, number][]) =>
  a.some(([s1, e1]) => b.some(([s2, e2]) => s1 < e2 && s2 < e1));

describe("LeaderElector", () => {
  it("a standby whose clock runs 30 s ahead does not take a lease the leader keeps renewing (expiry is not judged by renewTime)", async () => {
    const clock = new FakeClock();
    const memory = new MemoryLease(clock);
    const a = replica("a", memory, clock);
    a.elector.start();
    await run(clock, 500);
    expect(a.elector.isLeader()).toBe(true);
    const b = replica("b", memory, clock, 30_000);
    b.elector.start();
    await run(clock, 60_000);
    expect(b.leading).toEqual([]);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.stoppedWhy).toEqual([]);
  });

  it("a standby takes a dead leader's lease only after it has seen the record unchanged for the lease duration", async () => {
    const clock = new FakeClock();
    const memory = new MemoryLease(clock);
    const a = replica("a", memory, clock);
    a.elector.start();
    await run(clock, 500);
    // The standby's clock is far behind: by renewTime the lease would look fresh for minutes.
    const b = replica("b", memory, clock, -300_000);
    b.elector.start();
    await run(clock, 3000);
    a.store.hang = true; // the leader's API traffic stops (and so does its renewing)
    const lastRenew = memory.writes.at(-1)?.at ?? 0;
    await run(clock, 30_000);
    expect(b.elector.isLeader()).toBe(true);
    const takenAt = memory.writes.find((w) => w.record.holderIdentity === "b")?.at ?? 0;
    expect(takenAt - lastRenew).toBeGreaterThanOrEqual(15_000);
    expect(memory.lease?.record.leaseTransitions).toBe(1);
  });

  it("a leader whose renew call hangs stops leading at the renew deadline, before the standby can take the lease (never two leaders)", async () => {
    const clock = new FakeClock();
    const memory = new MemoryLease(clock);
    const a = replica("a", memory, clock);
    const b = replica("b", memory, clock, 45_000);
    a.elector.start();
    await run(clock, 500);
    b.elector.start();
    await run(clock, 5000);
    a.store.hang = true;
    await run(clock, 30_000);
    expect(a.stoppedWhy).toEqual([
      "could not renew the lease within the renew deadline (10000 ms)",
    ]);
    expect(b.elector.isLeader()).toBe(true);
    expect(overlaps(a.leading, b.leading)).toBe(false);
    // Every hung call was given up after its timeout, and the loop went on trying.
    expect(a.store.aborted).toBeGreaterThanOrEqual(2);
  });

  it("a leader that sees another holder in the lease steps down at once", async () => {
    const clock = new FakeClock();
    const memory = new MemoryLease(clock);
    const a = replica("a", memory, clock);
    a.elector.start();
    await run(clock, 500);
    const lease = memory.lease;
    if (!lease) throw new Error("no lease");
    memory.write({ ...lease.record, holderIdentity: "intruder" }, lease.resourceVersion);
    await run(clock, 3000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.stoppedWhy).toEqual(["intruder holds the lease"]);
  });

  it("stop() releases the lease so a standby can take it without waiting", async () => {
    const clock = new FakeClock();
    const memory = new MemoryLease(clock);
    const a = replica("a", memory, clock);
    a.elector.start();
    await run(clock, 500);
    const stopping = a.elector.stop();
    await run(clock, 100);
    await stopping;
    expect(memory.lease?.record.holderIdentity).toBe("");
    const b = replica("b", memory, clock);
    b.elector.start();
    await run(clock, 200);
    expect(b.elector.isLeader()).toBe(true);
    expect(a.stoppedWhy).toEqual([]);
  });

  it("refuses a renew deadline that is not below the lease duration", () => {
    const clock = new FakeClock();
    expect(
      () =>
        new LeaderElector({
          store: new ReplicaStore(new MemoryLease(clock)),
          identity: "x",
          log: pino({ level: "silent" }),
          leaseDurationMs: 10_000,
          renewDeadlineMs: 10_000,
          onStartedLeading: () => undefined,
          onStoppedLeading: () => undefined,
        }),
    ).toThrow("the renew deadline must be shorter than the lease duration");
  });
});
