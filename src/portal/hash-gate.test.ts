import { describe, expect, it } from "vitest";
import { HashCapacityError, HashGate } from "./hash-gate.ts";

/** A job that finishes when the test says so. */
function pending() {
  let finish = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { job: () => done, finish };
}

describe("HashGate", () => {
  it("runs at most `concurrency` jobs, queues up to `queue`, refuses the rest with 503", async () => {
    let refused = 0;
    const gate = new HashGate({ concurrency: 2, queue: 1, onRefused: () => refused++ });
    const jobs = [pending(), pending(), pending()];
    const runs = jobs.map((j) => gate.run(j.job));
    expect(gate.inFlight).toBe(2);
    expect(gate.queued).toBe(1);
    const error = await gate.run(() => Promise.resolve()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HashCapacityError);
    expect((error as HashCapacityError).statusCode).toBe(503);
    expect((error as HashCapacityError).headers["retry-after"]).toBe("1");
    expect(refused).toBe(1);
    jobs[0]?.finish();
    await runs[0];
    // The freed slot went to the queued job: still two in flight, nobody waiting.
    expect(gate.inFlight).toBe(2);
    expect(gate.queued).toBe(0);
    jobs[1]?.finish();
    jobs[2]?.finish();
    await Promise.all(runs);
    expect(gate.inFlight).toBe(0);
  });

  it("counts admitted places against the queue before their job starts, and frees a released one", async () => {
    const gate = new HashGate({ concurrency: 1, queue: 1 });
    const first = gate.admit();
    const second = gate.admit();
    // Nothing runs yet, but both places are taken: a third request is refused at once.
    expect(gate.inFlight).toBe(0);
    expect(() => gate.admit()).toThrow(HashCapacityError);
    second.release();
    const third = gate.admit();
    const job = pending();
    const running = first.run(job.job);
    expect(gate.inFlight).toBe(1);
    await expect(first.run(() => Promise.resolve())).rejects.toThrow(/one job/);
    job.finish();
    await running;
    first.release(); // after run: a no-op, the place was given back once
    await expect(third.run(() => Promise.resolve(3))).resolves.toBe(3);
    expect(gate.inFlight).toBe(0);
    gate.admit().release();
    gate.admit().release();
    expect(() => {
      gate.admit();
      gate.admit();
    }).not.toThrow();
  });

  it("frees the slot when a job fails", async () => {
    const gate = new HashGate({ concurrency: 1, queue: 0 });
    await expect(gate.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(gate.inFlight).toBe(0);
    await expect(gate.run(() => Promise.resolve(7))).resolves.toBe(7);
  });
});
