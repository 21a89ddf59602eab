import {
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import {
  compareResourceVersions,
  Informer,
  startInformers,
  type ListPage,
  type WatchLike,
} from "./informer.ts";

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
  watch: WatchLike = new IdleWatch(),
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

/** A watch the test drives: it records each call's query and hands back its callbacks. */
class ScriptedWatch implements WatchLike {
  readonly opened: {
    query: Record<string, unknown>;
    send: (phase: string, obj: unknown) => void;
    end: (err: unknown) => void;
  }[] = [];
  watch(
    _path: string,
    query: Record<string, unknown>,
    callback: (phase: string, obj: unknown, raw: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    this.opened.push({ query, send: (p, o) => callback(p, o, {}), end: done });
    return Promise.resolve(new AbortController());
  }
}

const settle = async () => {
  for (let turn = 0; turn < 50; turn++) await Promise.resolve();
};

describe("Informer list and watch at scale", () => {
  it("lists in pages, following continue tokens, and never asks for the whole kind at once", async () => {
    const pages: ListPage[] = [];
    const all = Array.from({ length: 7 }, (_, i) => object(`o${String(i)}`));
    const informer = new Informer<KubernetesObject>({
      kubeConfig: new KubeConfig(),
      path: "/api/v1/things",
      pageSize: 3,
      list: (page) => {
        pages.push(page);
        const from = Number(page.continue ?? 0);
        const next = from + page.limit < all.length ? String(from + page.limit) : undefined;
        return Promise.resolve({
          apiVersion: "v1",
          kind: "ThingList",
          // Raw JSON from the API server says `continue`; typed clients say `_continue`.
          metadata: { resourceVersion: "9", ...(next ? { continue: next } : {}) },
          items: all.slice(from, from + page.limit),
        } as KubernetesListObject<KubernetesObject>);
      },
      watch: new IdleWatch(),
      log: pino({ level: "silent" }),
    });
    await startInformers([informer]);
    expect(pages).toEqual([{ limit: 3 }, { limit: 3, continue: "3" }, { limit: 3, continue: "6" }]);
    expect(informer.size).toBe(7);
    await informer.stop();
  });

  it("starts the list over when its continue token expired (410), and holds no object twice", async () => {
    let calls = 0;
    const informer = new Informer<KubernetesObject>({
      kubeConfig: new KubeConfig(),
      path: "/api/v1/things",
      pageSize: 1,
      list: (page) => {
        calls++;
        if (calls === 2) return Promise.reject(Object.assign(new Error("Gone"), { code: 410 }));
        const second = page.continue === "b";
        return Promise.resolve({
          apiVersion: "v1",
          kind: "ThingList",
          metadata: { resourceVersion: "9", ...(second ? {} : { _continue: "b" }) },
          items: [object(second ? "b" : "a")],
        });
      },
      watch: new IdleWatch(),
      log: pino({ level: "silent" }),
    });
    await startInformers([informer]);
    expect(calls).toBe(4);
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(["a", "b"]);
    await informer.stop();
  });

  it("drops managedFields and the last-applied annotation before caching (they are never read)", async () => {
    const fat: KubernetesObject = {
      ...object("a"),
      metadata: {
        name: "a",
        resourceVersion: "1",
        managedFields: [{ manager: "kubectl", operation: "Update" }],
        annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}", keep: "me" },
      },
    };
    const watch = new ScriptedWatch();
    const informer = informerOf(listOf(fat), watch);
    await startInformers([informer]);
    expect(informer.get("a")?.metadata).toEqual({
      name: "a",
      resourceVersion: "1",
      annotations: { keep: "me" },
    });
    watch.opened[0]?.send("MODIFIED", {
      ...object("a", "2"),
      metadata: { name: "a", resourceVersion: "2", managedFields: [{ manager: "x" }] },
    });
    expect(informer.get("a")?.metadata).toEqual({ name: "a", resourceVersion: "2" });
    await informer.stop();
  });

  it("resumes an ended watch from the last bookmark's version, without listing again", async () => {
    let lists = 0;
    const watch = new ScriptedWatch();
    const informer = informerOf(() => {
      lists++;
      return listOf(object("a"))();
    }, watch);
    const changes: string[] = [];
    informer.onChange((c) => changes.push(`${c.type}:${c.object.metadata?.name ?? ""}`));
    await startInformers([informer]);
    expect(watch.opened[0]?.query).toMatchObject({
      resourceVersion: "9",
      allowWatchBookmarks: true,
    });
    watch.opened[0]?.send("ADDED", object("b", "10"));
    watch.opened[0]?.send("BOOKMARK", { metadata: { resourceVersion: "15" } });
    watch.opened[0]?.end(null);
    await settle();
    expect(watch.opened[1]?.query).toMatchObject({ resourceVersion: "15" });
    expect(lists).toBe(1);
    expect(changes).toEqual(["add:a", "add:b"]);
    await informer.stop();
  });

  it("relists after 410 Gone and reports the objects that vanished meanwhile as deleted", async () => {
    let lists = 0;
    const watch = new ScriptedWatch();
    const informer = informerOf(() => {
      lists++;
      return lists === 1 ? listOf(object("a"), object("b"))() : listOf(object("b"))();
    }, watch);
    const changes: string[] = [];
    await startInformers([informer]);
    informer.onChange((c) => changes.push(`${c.type}:${c.object.metadata?.name ?? ""}`));
    watch.opened[0]?.send("ERROR", { code: 410 });
    watch.opened[0]?.end(null);
    await settle();
    expect(lists).toBe(2);
    // b is the same version as cached: no change is reported for it.
    expect(changes).toEqual(["delete:a"]);
    expect(informer.list().map((o) => o.metadata?.name)).toEqual(["b"]);
    await informer.stop();
  });

  it("takes the answer to its own write at once, so the next write is not from a stale copy (a conflict per rewrite)", async () => {
    const watch = new ScriptedWatch();
    const informer = informerOf(listOf(object("a", "1")), watch);
    const changes: string[] = [];
    informer.onChange((c) =>
      changes.push(
        `${c.type}:${c.old?.metadata?.resourceVersion ?? ""}>${c.object.metadata?.resourceVersion ?? ""}`,
      ),
    );
    await startInformers([informer]);
    const from = informer.get("a") as KubernetesObject;
    informer.observeWrite(from, {
      ...object("a", "2"),
      metadata: { name: "a", resourceVersion: "2", managedFields: [{ manager: "x" }] },
    });
    expect(informer.get("a")?.metadata).toEqual({ name: "a", resourceVersion: "2" });
    // The watch event of the same version afterwards changes nothing.
    watch.opened[0]?.send("MODIFIED", object("a", "2"));
    expect(changes).toEqual(["add:>1", "update:1>2"]);
    await informer.stop();
  });

  it("drops the answer to a write when the cache moved on meanwhile (never goes back a version)", async () => {
    const watch = new ScriptedWatch();
    const informer = informerOf(listOf(object("a", "1")), watch);
    await startInformers([informer]);
    const from = informer.get("a") as KubernetesObject;
    // Our write made version 2, someone else's version 3, and the watch delivered both first.
    watch.opened[0]?.send("MODIFIED", object("a", "2"));
    watch.opened[0]?.send("MODIFIED", object("a", "3"));
    informer.observeWrite(from, object("a", "2"));
    expect(informer.get("a")?.metadata?.resourceVersion).toBe("3");
    // Nor does it bring back a deleted object.
    watch.opened[0]?.send("DELETED", object("a", "4"));
    informer.observeWrite(from, object("a", "2"));
    expect(informer.get("a")).toBeUndefined();
    await informer.stop();
  });
});

describe("Informer with comparable resourceVersions and a transform (the portal's session cache)", () => {
  interface Slim extends KubernetesObject {
    note: string;
  }
  function comparable(watch: ScriptedWatch, ...items: KubernetesObject[]) {
    return new Informer<KubernetesObject & { note?: string; secret?: string }, Slim>({
      kubeConfig: new KubeConfig(),
      path: "/api/v1/things",
      list: listOf(...items),
      watch,
      log: pino({ level: "silent" }),
      comparableVersions: true,
      transform: (o) => ({
        metadata: {
          name: o.metadata?.name ?? "",
          resourceVersion: o.metadata?.resourceVersion ?? "",
        },
        note: o.note ?? "",
      }),
    });
  }
  const rv = (informer: { get(n: string): KubernetesObject | undefined }, name: string) =>
    informer.get(name)?.metadata?.resourceVersion;

  it("orders resourceVersions as integers (KEP-5504), and not strings that are not", () => {
    expect(compareResourceVersions("9", "10")).toBe(-1);
    expect(compareResourceVersions("123", "123")).toBe(0);
    expect(compareResourceVersions("20", "19")).toBe(1);
    expect(compareResourceVersions("07", "8")).toBeUndefined();
    expect(compareResourceVersions("", "8")).toBeUndefined();
  });

  it("caches the transformed form only (no secret field survives)", async () => {
    const watch = new ScriptedWatch();
    const informer = comparable(watch, {
      ...object("a", "5"),
      note: "n",
      secret: "hash",
    } as KubernetesObject);
    await startInformers([informer]);
    expect(informer.get("a")).toEqual({ metadata: { name: "a", resourceVersion: "5" }, note: "n" });
    await informer.stop();
  });

  it("stores its own write at once even when the watch is behind, and the watch's older versions do not undo it (a sign-out seen late)", async () => {
    const watch = new ScriptedWatch();
    const informer = comparable(watch, object("a", "5"));
    await startInformers([informer]);
    // Someone wrote 6, we wrote 7 on top of it; the watch has delivered neither yet.
    expect(informer.observe({ ...object("a", "7"), note: "ours" })).toBe(true);
    watch.opened[0]?.send("MODIFIED", { ...object("a", "6"), note: "theirs" });
    expect([rv(informer, "a"), informer.get("a")?.note]).toEqual(["7", "ours"]);
    watch.opened[0]?.send("MODIFIED", { ...object("a", "7"), note: "ours" });
    watch.opened[0]?.send("MODIFIED", { ...object("a", "8"), note: "later" });
    expect(informer.get("a")?.note).toBe("later");
    // An older answer (a read that raced the watch) does not go back a version.
    expect(informer.observe(object("a", "7"))).toBe(false);
    expect(rv(informer, "a")).toBe("8");
    await informer.stop();
  });

  it("stores an object it read before the watch brought it, but never brings back one the watch saw deleted", async () => {
    const watch = new ScriptedWatch();
    const informer = comparable(watch, object("a", "5"));
    await startInformers([informer]); // the list's version is 9
    expect(informer.observe(object("b", "12"))).toBe(true);
    expect(rv(informer, "b")).toBe("12");
    // The watch deletes a at 13: a write answered at 11 (older than the delete) stays out.
    watch.opened[0]?.send("DELETED", object("a", "13"));
    expect(informer.observe(object("a", "11"))).toBe(false);
    expect(informer.get("a")).toBeUndefined();
    // A delete older than what is cached (b made again after it) deletes nothing.
    expect(informer.observe(object("c", "20"))).toBe(true);
    watch.opened[0]?.send("DELETED", object("c", "15"));
    expect(rv(informer, "c")).toBe("20");
    await informer.stop();
  });

  it("keeps, through a relist, an object stored after the list's snapshot", async () => {
    const watch = new ScriptedWatch();
    let items = [object("a", "5")];
    const informer = new Informer<KubernetesObject>({
      kubeConfig: new KubeConfig(),
      path: "/api/v1/things",
      list: () =>
        Promise.resolve({
          apiVersion: "v1",
          kind: "ThingList",
          metadata: { resourceVersion: "9" },
          items,
        }),
      watch,
      log: pino({ level: "silent" }),
      comparableVersions: true,
    });
    await startInformers([informer]);
    expect(informer.observe(object("b", "10"))).toBe(true);
    items = [object("a", "5")];
    // 410: the next cycle lists again (its snapshot at 9 does not hold b, made at 10).
    watch.opened[0]?.end({ code: 410 });
    for (let turn = 0; turn < 50 && watch.opened.length < 2; turn++) await Promise.resolve();
    expect(watch.opened.length).toBe(2);
    expect(rv(informer, "b")).toBe("10");
    await informer.stop();
  });

  it("does nothing on observe without comparable versions (equality is all it may assume)", async () => {
    const informer = informerOf(listOf(object("a", "1")));
    await startInformers([informer]);
    expect(informer.observe(object("a", "2"))).toBe(false);
    expect(rv(informer, "a")).toBe("1");
    await informer.stop();
  });
});
