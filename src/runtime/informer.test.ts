import {
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Informer, startInformers, type WatchLike } from "./informer.ts";

const object = (name: string, resourceVersion = "1"): KubernetesObject => ({
  apiVersion: "v1",
  kind: "Thing",
  metadata: { name, resourceVersion },
});

/** A watch that connects and never sends an event, recording the calls. */
class IdleWatch implements WatchLike {
  calls = 0;
  watch(): Promise<AbortController> {
    this.calls++;
    return Promise.resolve(new AbortController());
  }
}

function informerOf(
  list: () => Promise<KubernetesListObject<KubernetesObject>>,
  watch = new IdleWatch(),
) {
  return new Informer<KubernetesObject>({
    kubeConfig: new KubeConfig(),
    path: "/api/v1/things",
    list,
    watch,
    log: pino({ level: "silent" }),
  });
}

const listOf =
  (...items: KubernetesObject[]) =>
  () =>
    Promise.resolve({
      apiVersion: "v1",
      kind: "ThingList",
      metadata: { resourceVersion: "9" },
      items,
    });

describe("Informer sync", () => {
  it("holds the whole first list in its store when waitForSync resolves (a synced cache is never partial)", async () => {
    const informer = informerOf(listOf(object("a"), object("b"), object("c")));
    informer.start();
    await informer.waitForSync();
    expect(
      informer
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
    ).toEqual(["a", "b", "c"]);
    expect(informer.get("b")?.metadata?.name).toBe("b");
    await informer.stop();
  });

  it("never reports hasSynced while the listed objects are not yet in the store", async () => {
    const informer = informerOf(listOf(object("a"), object("b")));
    const seen: number[] = [];
    informer.start();
    // Look at every turn of the microtask queue until it says synced.
    for (let turn = 0; turn < 100 && !informer.hasSynced(); turn++) await Promise.resolve();
    seen.push(informer.list().length);
    expect(informer.hasSynced()).toBe(true);
    expect(seen).toEqual([2]);
    await informer.stop();
  });

  it("hands every handler the adds of the first list before it reports synced", async () => {
    const informer = informerOf(listOf(object("a"), object("b")));
    const added: string[] = [];
    informer.onChange((c) => added.push(c.object.metadata?.name ?? ""));
    await startInformers([informer]);
    expect(added.sort()).toEqual(["a", "b"]);
    await informer.stop();
  });

  it("is synced with an empty store when the list is empty", async () => {
    const informer = informerOf(listOf());
    informer.start();
    await informer.waitForSync();
    expect(informer.hasSynced()).toBe(true);
    expect(informer.list()).toEqual([]);
    await informer.stop();
  });

  it("does not report synced when the first list fails; it retries", async () => {
    let calls = 0;
    const informer = informerOf(() => {
      calls++;
      return calls === 1 ? Promise.reject(new Error("connection refused")) : listOf(object("a"))();
    });
    informer.start();
    for (let turn = 0; turn < 50; turn++) await Promise.resolve();
    expect(informer.hasSynced()).toBe(false);
    await informer.stop();
  });
});
