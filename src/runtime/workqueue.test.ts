import { describe, expect, it } from "vitest";
import { FakeClock } from "./clock.ts";
import { ExponentialBackoff, MaxOf, TokenBucket } from "./rate-limiter.ts";
import { WorkQueue } from "./workqueue.ts";

function newQueue(clock = new FakeClock()) {
  return {
    clock,
    queue: new WorkQueue({ clock, limiter: new ExponentialBackoff(5, 15 * 60_000) }),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Takes every key that is ready now, without blocking. */
async function drain(queue: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (queue.length > 0) {
    const key = await queue.get();
    if (key === undefined) break;
    keys.push(key);
  }
  return keys;
}

describe("WorkQueue", () => {
  it.each([
    { name: "one key added three times", adds: ["a", "a", "a"], expected: ["a"] },
    {
      name: "keys keep first-add order",
      adds: ["b", "a", "b", "c", "a"],
      expected: ["b", "a", "c"],
    },
    { name: "no adds", adds: [], expected: [] },
  ])("dedups waiting keys: $name", async ({ adds, expected }) => {
    const { queue } = newQueue();
    for (const key of adds) queue.add(key);
    expect(await drain(queue)).toEqual(expected);
  });

  it("never hands a key being processed to a second worker, and re-queues it once after", async () => {
    const { queue } = newQueue();
    queue.add("a");
    const first = await queue.get();
    expect(first).toBe("a");
    queue.add("a");
    queue.add("a");
    expect(queue.length).toBe(0); // not handed out again while processing
    let second: string | undefined;
    void queue.get().then((k) => (second = k));
    await settle();
    expect(second).toBeUndefined();
    queue.done("a");
    await settle();
    expect(second).toBe("a");
    queue.done("a");
    expect(queue.length).toBe(0);
  });

  describe("background lane", () => {
    const backgroundQueue = (backgroundLimit: number) =>
      new WorkQueue({ clock: new FakeClock(), backgroundLimit });

    it("hands out every usual key before any background key", async () => {
      const queue = backgroundQueue(8);
      queue.addBackground("member-1");
      queue.add("new-user");
      queue.addBackground("member-2");
      queue.add("other-user");
      expect(queue.length).toBe(4);
      expect(await drain(queue)).toEqual(["new-user", "other-user", "member-1", "member-2"]);
    });

    it("runs at most backgroundLimit background keys at once, and the rest as they finish", async () => {
      const queue = backgroundQueue(1);
      queue.addBackground("a");
      queue.addBackground("b");
      expect(await queue.get()).toBe("a");
      let next: string | undefined;
      void queue.get().then((k) => (next = k));
      await settle();
      expect(next).toBeUndefined(); // b waits: one background key is running
      queue.add("urgent");
      await settle();
      expect(next).toBe("urgent"); // a usual key is not held back by the limit
      let after: string | undefined;
      void queue.get().then((k) => (after = k));
      queue.done("a");
      await settle();
      expect(after).toBe("b");
    });

    it("moves a background key to the front lane when it is added the usual way", async () => {
      const queue = backgroundQueue(1);
      queue.addBackground("x");
      queue.addBackground("y");
      queue.add("y");
      expect(queue.length).toBe(2);
      expect(await drain(queue)).toEqual(["y", "x"]);
      queue.done("y");
      expect(queue.length).toBe(0);
    });

    it("queues a key once, in the front lane when both lanes asked for it while it ran", async () => {
      const queue = backgroundQueue(4);
      queue.add("k");
      expect(await queue.get()).toBe("k");
      queue.addBackground("k");
      queue.add("k");
      queue.addBackground("k");
      queue.done("k");
      queue.addBackground("later");
      expect(await drain(queue)).toEqual(["k", "later"]);
    });

    it("re-queues a key added in the background while it ran, in the background", async () => {
      const queue = backgroundQueue(4);
      queue.add("k");
      expect(await queue.get()).toBe("k");
      queue.addBackground("k");
      queue.add("first");
      queue.done("k");
      expect(await drain(queue)).toEqual(["first", "k"]);
    });
  });

  it("delivers to a waiting worker as soon as a key is added", async () => {
    const { queue } = newQueue();
    const next = queue.get();
    queue.add("x");
    await expect(next).resolves.toBe("x");
  });

  it.each([
    { failures: 1, delay: 5 },
    { failures: 2, delay: 10 },
    { failures: 3, delay: 20 },
    { failures: 10, delay: 2560 },
    { failures: 18, delay: 655_360 },
    { failures: 19, delay: 900_000 }, // capped at 15 minutes
    { failures: 40, delay: 900_000 },
  ])("backs off exponentially: failure $failures waits $delay ms", async ({ failures, delay }) => {
    const { queue, clock } = newQueue();
    for (let i = 1; i < failures; i++) {
      queue.addRateLimited("a");
      clock.advance(10 ** 7);
      expect(await queue.get()).toBe("a");
      queue.done("a");
    }
    queue.addRateLimited("a");
    clock.advance(delay - 1);
    expect(queue.length).toBe(0);
    clock.advance(1);
    expect(queue.length).toBe(1);
    expect(queue.retries("a")).toBe(failures);
  });

  it("forget resets the backoff", () => {
    const { queue, clock } = newQueue();
    queue.addRateLimited("a");
    queue.addRateLimited("a");
    queue.forget("a");
    expect(queue.retries("a")).toBe(0);
    clock.advance(10); // drain the earlier timers
    const fresh = newQueue(clock).queue;
    fresh.addRateLimited("b");
    clock.advance(5);
    expect(fresh.length).toBe(1);
  });

  it("keeps backoff per key", () => {
    const { queue, clock } = newQueue();
    queue.addRateLimited("a");
    queue.addRateLimited("a"); // a: next would be 10 ms, but the 5 ms one is pending
    queue.addRateLimited("b");
    expect(queue.retries("a")).toBe(2);
    expect(queue.retries("b")).toBe(1);
    clock.advance(5);
    expect(queue.length).toBe(2);
  });

  it.each([
    {
      name: "earlier delay fires first",
      adds: [
        ["a", 30],
        ["b", 10],
        ["c", 20],
      ],
      expected: ["b", "c", "a"],
    },
    {
      name: "a shorter addAfter replaces a longer one",
      adds: [
        ["a", 100],
        ["a", 10],
        ["b", 50],
      ],
      expected: ["a", "b"],
    },
    {
      name: "a longer addAfter does not postpone",
      adds: [
        ["a", 10],
        ["a", 100],
        ["b", 50],
      ],
      expected: ["a", "b"],
    },
    { name: "zero delay adds at once", adds: [["a", 0]], expected: ["a"] },
  ] as { name: string; adds: [string, number][]; expected: string[] }[])(
    "addAfter ordering: $name",
    async ({ adds, expected }) => {
      const { queue, clock } = newQueue();
      for (const [key, ms] of adds) queue.addAfter(key, ms);
      const seen: string[] = [];
      for (let t = 0; t <= 200; t++) {
        seen.push(...(await drain(queue)));
        clock.advance(1);
      }
      expect(seen).toEqual(expected);
    },
  );

  it("addAfter does not fire before its time", () => {
    const { queue, clock } = newQueue();
    queue.addAfter("a", 1000);
    clock.advance(999);
    expect(queue.length).toBe(0);
    clock.advance(1);
    expect(queue.length).toBe(1);
  });

  it("shutdown releases waiting workers, stops handing out keys and drops delayed adds", async () => {
    const { queue, clock } = newQueue();
    const waiting = queue.get();
    queue.addAfter("later", 10);
    queue.shutdown();
    await expect(waiting).resolves.toBeUndefined();
    queue.add("x");
    await expect(queue.get()).resolves.toBeUndefined();
    clock.advance(100);
    expect(queue.length).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("shutdown also stops handing out keys that were already queued", async () => {
    const { queue } = newQueue();
    queue.add("a");
    queue.shutdown();
    await expect(queue.get()).resolves.toBeUndefined();
  });
});

describe("TokenBucket", () => {
  it("lets a burst through, then spaces keys at the rate", () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(clock, 10, 2);
    expect([bucket.when(), bucket.when(), bucket.when(), bucket.when()]).toEqual([0, 0, 100, 200]);
    clock.advance(1000);
    expect(bucket.when()).toBe(0);
  });

  it("combines with per-key backoff by taking the longer wait", () => {
    const clock = new FakeClock();
    const limiter = new MaxOf(new ExponentialBackoff(5, 1000), new TokenBucket(clock, 1, 1));
    expect(limiter.when("a")).toBe(5);
    expect(limiter.when("b")).toBe(1000);
  });
});
