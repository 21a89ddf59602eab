import { describe, expect, it } from "vitest";
import type { SsoGrant } from "../../identity/credentials.ts";
import { RecentGrants } from "./recent-grants.ts";

const token = { userName: "alice", grantId: "g1", clientId: "c1" };
const grant: SsoGrant = {
  id: "g1",
  clientId: "c1",
  clientName: "cli",
  createdAt: 0,
  expiresAt: 10_000,
};

function counted(answer: () => SsoGrant | undefined) {
  const reads = { count: 0 };
  const read = () => {
    reads.count++;
    return Promise.resolve(answer());
  };
  return { reads, read };
}

describe("RecentGrants", () => {
  it("reuses a grant found less than a second ago, and reads again after", async () => {
    const recent = new RecentGrants(1000);
    const { reads, read } = counted(() => grant);
    for (const now of [0, 10, 999]) expect(await recent.check(token, now, read)).toBe(grant);
    expect(reads.count).toBe(1);
    await recent.check(token, 1000, read);
    expect(reads.count).toBe(2);
  });

  it("never reuses an answer that found no grant (a new grant is seen at once)", async () => {
    const recent = new RecentGrants(1000);
    const live: { grant?: SsoGrant } = {};
    const { reads, read } = counted(() => live.grant);
    expect(await recent.check(token, 0, read)).toBeUndefined();
    live.grant = grant;
    expect(await recent.check(token, 1, read)).toBe(grant);
    expect(reads.count).toBe(2);
  });

  it("shares one read among the calls that arrive while it runs", async () => {
    const recent = new RecentGrants(1000);
    const { reads, read } = counted(() => grant);
    const all = await Promise.all([0, 1, 2].map((now) => recent.check(token, now, read)));
    expect(all).toEqual([grant, grant, grant]);
    expect(reads.count).toBe(1);
  });

  it("forgets a user's checks (a logout here), not other users'", async () => {
    const recent = new RecentGrants(1000);
    const { reads, read } = counted(() => grant);
    const bobs = { ...token, userName: "alice2" };
    await recent.check(token, 0, read);
    await recent.check(bobs, 0, read);
    recent.forget("alice");
    await recent.check(token, 1, read);
    await recent.check(bobs, 1, read);
    expect(reads.count).toBe(3);
  });

  it("does not reuse a grant past its expiry, nor a failed read, nor across a clock set back", async () => {
    const recent = new RecentGrants(1000);
    const { reads, read } = counted(() => grant);
    await recent.check(token, 9_500, read);
    await recent.check(token, 10_000, read);
    expect(reads.count).toBe(2);
    const failing = () => Promise.reject(new Error("API server unavailable"));
    await expect(recent.check(token, 20_000, failing)).rejects.toThrow("unavailable");
    await recent.check(token, 20_001, read);
    await recent.check(token, 19_000, read);
    expect(reads.count).toBe(4);
  });
});
