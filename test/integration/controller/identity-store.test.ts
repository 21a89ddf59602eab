import { EventsV1Api, Watch } from "@kubernetes/client-node";
import { pino } from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import type { User } from "../../../src/api/v1alpha1/index.ts";
import { store } from "../../../src/adapters/k8s/stores.ts";
import { startInformers, type WatchLike } from "../../../src/runtime/informer.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { customObjects, readyOf } from "../../harness/k8s.ts";
import { useControllerProcess } from "../../harness/use-controller.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";

const poll = { timeout: 20_000, interval: 100 };

describe("identity store controllers", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles() });
  let objects: ReturnType<typeof customObjects>;

  beforeAll(() => {
    objects = customObjects(env().kubeConfig());
  });
  const controllerProcess = useControllerProcess(env, { identity: "solo" });

  const ready = async (plural: string, name: string) => readyOf(await objects.get(plural, name));

  it("flags a duplicate userName on both users, naming the other, and clears it when one is fixed", async () => {
    await objects.create("users", "User", "alice", {
      userName: "alice",
      email: "alice@example.com",
    });
    await expect
      .poll(() => ready("users", "alice"), poll)
      .toMatchObject({ status: "True", reason: "Valid" });

    await objects.create("users", "User", "alice-2", {
      userName: "alice",
      email: "alice2@example.com",
    });
    await expect
      .poll(() => ready("users", "alice"), poll)
      .toMatchObject({
        status: "False",
        reason: "Duplicate",
        message: expect.stringContaining('also used by User "alice-2"') as unknown,
      });
    await expect
      .poll(() => ready("users", "alice-2"), poll)
      .toMatchObject({
        status: "False",
        reason: "Duplicate",
        message: expect.stringContaining('also used by User "alice"') as unknown,
      });
    const user = await objects.get("users", "alice-2");
    expect(user.status?.observedGeneration).toBe(1);

    await objects.patchSpec("users", "alice-2", { userName: "alice.two" });
    await expect.poll(() => ready("users", "alice"), poll).toMatchObject({ status: "True" });
    await expect.poll(() => ready("users", "alice-2"), poll).toMatchObject({ status: "True" });
    await expect
      .poll(async () => (await objects.get("users", "alice-2")).status?.observedGeneration, poll)
      .toBe(2);
  });

  it("compares emails case-insensitively and clears the clash when a user is deleted", async () => {
    await objects.create("users", "User", "bob", { userName: "bob", email: "bob@example.com" });
    await objects.create("users", "User", "robert", {
      userName: "robert",
      email: "BOB@Example.COM",
    });
    await expect.poll(() => ready("users", "bob"), poll).toMatchObject({ reason: "Duplicate" });
    await expect.poll(() => ready("users", "robert"), poll).toMatchObject({ reason: "Duplicate" });
    await objects.delete("users", "robert");
    await expect
      .poll(() => ready("users", "bob"), poll)
      .toMatchObject({ status: "True", reason: "Valid" });
  });

  it("records a Warning event for a duplicate", async () => {
    const events = await env()
      .kubeConfig()
      .makeApiClient(EventsV1Api)
      .listNamespacedEvent({ namespace: "default" });
    const duplicate = events.items.find(
      (e) => e.reason === "Duplicate" && e.regarding?.name === "alice-2",
    );
    expect(duplicate?.type).toBe("Warning");
    expect(duplicate?.regarding?.kind).toBe("User");
  });

  it("resolves group members both ways: a new user fixes an unknown member, a deleted one shows up", async () => {
    await objects.create("groups", "Group", "admins", { members: ["carol", "dave"] });
    await expect
      .poll(async () => (await objects.get("groups", "admins")).status, poll)
      .toMatchObject({
        members: 0,
        unknownMembers: ["carol", "dave"],
      });
    expect(await ready("groups", "admins")).toMatchObject({
      status: "False",
      reason: "UnknownMembers",
    });

    await objects.create("users", "User", "carol", {
      userName: "carol",
      email: "carol@example.com",
    });
    await objects.create("users", "User", "dave", { userName: "dave", email: "dave@example.com" });
    await expect
      .poll(() => ready("groups", "admins"), poll)
      .toMatchObject({ status: "True", reason: "Resolved" });
    expect((await objects.get("groups", "admins")).status).toMatchObject({
      members: 2,
      unknownMembers: [],
    });
    await expect
      .poll(async () => (await objects.get("users", "carol")).status?.groups, poll)
      .toEqual(["admins"]);

    await objects.delete("users", "dave");
    await expect
      .poll(async () => (await objects.get("groups", "admins")).status, poll)
      .toMatchObject({
        members: 1,
        unknownMembers: ["dave"],
      });
  });

  it("updates a user's groups when the group's members change, and treats a clashing user as unknown", async () => {
    await objects.create("groups", "Group", "auditors", { members: ["carol"] });
    await expect
      .poll(async () => (await objects.get("users", "carol")).status?.groups, poll)
      .toEqual(["admins", "auditors"]);
    await objects.patchSpec("groups", "auditors", { members: [] });
    await expect
      .poll(async () => (await objects.get("users", "carol")).status?.groups, poll)
      .toEqual(["admins"]);

    await objects.create("users", "User", "carol-clone", {
      userName: "carol",
      email: "clone@example.com",
    });
    await expect
      .poll(async () => (await objects.get("groups", "admins")).status?.unknownMembers, poll)
      .toEqual(["carol", "dave"]);
  });

  it("writes an object's status again right after its own write, while its watch runs behind (a stale cached copy made every rewrite a 409 and a retry)", async () => {
    await objects.create("users", "User", "erin", { userName: "erin", email: "erin@example.com" });
    await expect.poll(() => ready("users", "erin"), poll).toMatchObject({ status: "True" });
    // A store of our own, built as the controller's, whose watch events arrive 2 s late, as
    // they do when a controller's event loop is busy with a create storm. The controller
    // ignores status-only changes, so these writes are the only ones.
    const kc = env().kubeConfig();
    const real = new Watch(kc);
    const lagging: WatchLike = {
      watch: (path, query, onEvent, onDone) =>
        real.watch(
          path,
          query,
          (phase, obj, watchObj) => setTimeout(() => onEvent(phase, obj, watchObj), 2000),
          (err) => setTimeout(() => onDone(err), 2000),
        ),
    };
    const users = store<User>(kc, "User", pino({ level: "silent" }), lagging);
    await startInformers([users.informer]);
    try {
      const cached = users.informer.get("erin") as User;
      expect(cached.status?.conditions?.length).toBeGreaterThan(0);
      expect(await users.client.updateStatus(cached, { ...cached.status, groups: ["x"] })).toBe(
        true,
      );
      // At once, as the reconcile of a group that just arrived would: from the cache.
      const next = users.informer.get("erin") as User;
      expect(next.status?.groups).toEqual(["x"]);
      expect(await users.client.updateStatus(next, { ...next.status, groups: ["y"] })).toBe(true);
      expect((await objects.get("users", "erin")).status?.groups).toEqual(["y"]);
    } finally {
      await users.informer.stop();
    }
  });

  it("serves metrics for queues and reconciles", async () => {
    expect(
      await controllerProcess().metric('idc_reconcile_total{controller="user",result="success"}'),
    ).toBeGreaterThan(0);
    expect(await controllerProcess().metric("idc_leader_election_is_leader")).toBe(1);
  });
});
