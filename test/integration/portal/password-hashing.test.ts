import { scryptSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { Client } from "./client.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { waitFor } from "../../harness/wait.ts";
import { CredentialStore } from "../../../src/adapters/k8s/credential-store.ts";
import { credentialOwners } from "../../../src/adapters/k8s/stores.ts";
import { addSession, revokeSessions } from "../../../src/identity/credentials.ts";
import { CREDENTIALS_NS, startPortalFixture } from "./fixture.ts";

const PASSWORD = "a long enough passphrase";

/** alice's password as the portal stored it before Argon2id: scrypt at N=2^17. */
function scryptRecordOf(password: string): string {
  const salt = Buffer.from("fixed salt 16 by");
  const N = 2 ** 17;
  const key = scryptSync(password.normalize("NFKC"), salt, 32, {
    N,
    r: 8,
    p: 1,
    maxmem: 256 * N * 8,
  });
  return ["scrypt", N, 8, 1, salt.toString("base64"), key.toString("base64")].join("$");
}

describe("password hashing in the portal", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles(), moto: true });
  let fixture: Awaited<ReturnType<typeof startPortalFixture>>;

  beforeAll(async () => {
    fixture = await startPortalFixture(env(), {
      externalUrl: "http://127.0.0.1:8080",
      signInUrl: "https://signin.aws.amazon.com/saml",
      now: () => new Date(),
    });
    await fixture.objects.patchSpec("identitycenters", "default", {
      signIn: { mfa: "disabled", duration: "PT8H", idleTimeout: "PT1H", lockoutThreshold: 100 },
    });
    await waitFor("the portal to see MFA disabled", () =>
      Promise.resolve(
        fixture.stores.identityCenters.informer.get("default")?.spec.signIn.mfa === "disabled",
      ),
    );
  });
  afterAll(async () => {
    await fixture.stop();
  });

  async function signIn(app: typeof fixture.app, password = PASSWORD) {
    const client = new Client(app);
    const login = await client.request("GET", "/login");
    return client.request("POST", "/login", {
      csrf: Client.csrf(login.body),
      username: "alice",
      password,
    });
  }

  it("signs in with a record written with scrypt and rewrites it as Argon2id at OWASP's cost", async () => {
    const legacy = scryptRecordOf(PASSWORD);
    await fixture.store.update("alice", (r) => ({ ...r, passwordHash: legacy, failures: 0 }));
    expect((await signIn(fixture.app, "not the password")).statusCode).toBe(401);
    expect((await fixture.store.get("alice"))?.passwordHash).toBe(legacy);
    const res = await signIn(fixture.app);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe("/");
    const upgraded = (await fixture.store.get("alice"))?.passwordHash ?? "";
    expect(upgraded).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    // The new record signs in; the old one is gone.
    expect((await signIn(fixture.app)).statusCode).toBe(303);
    expect((await fixture.store.get("alice"))?.passwordHash).toBe(upgraded);
  });

  it("answers 503 with Retry-After, never a 500, when more people sign in at once than its memory allows", async () => {
    // One check at a time and one waiting: the rest of a burst is refused at once rather than
    // each taking Argon2's memory.
    const small = fixture.replica({ hashing: { concurrency: 1, queue: 1 } });
    const before = (
      await fixture.metrics.registry.getSingleMetricAsString(
        "idc_portal_password_hash_refusals_total",
      )
    ).match(/ (\d+)$/m)?.[1];
    const burst = await Promise.all(Array.from({ length: 16 }, () => signIn(small)));
    const statuses = burst.map((r) => r.statusCode);
    expect(statuses.every((s) => s === 303 || s === 503)).toBe(true);
    expect(statuses).toContain(303);
    const refused = burst.filter((r) => r.statusCode === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.headers["retry-after"]).toBe("1");
      expect(r.body).toContain("busy signing other people in");
    }
    const after = (
      await fixture.metrics.registry.getSingleMetricAsString(
        "idc_portal_password_hash_refusals_total",
      )
    ).match(/ (\d+)$/m)?.[1];
    expect(Number(after) - Number(before ?? 0)).toBe(refused.length);
    // Once the burst is over, sign-in works again on the same replica.
    expect((await signIn(small)).statusCode).toBe(303);
  });

  it("counts no failed password for a sign-in it turns away with 503 (a storm of refusals cannot lock the right password out)", async () => {
    await fixture.store.update("alice", (r) => ({ ...r, failures: 0 }));
    // One check at a time and none waiting: most of a burst is refused.
    const small = fixture.replica({ hashing: { concurrency: 1, queue: 0 } });
    const burst = await Promise.all(
      Array.from({ length: 12 }, () => signIn(small, "not the password")),
    );
    const statuses = burst.map((r) => r.statusCode);
    expect(statuses.every((s) => s === 401 || s === 503)).toBe(true);
    const checked = statuses.filter((s) => s === 401).length;
    expect(checked).toBeGreaterThan(0);
    expect(checked).toBeLessThan(burst.length);
    // Only the attempts whose password was checked count toward the lockout.
    expect((await fixture.store.get("alice"))?.failures).toBe(checked);
    expect((await signIn(small)).statusCode).toBe(303);
    expect((await fixture.store.get("alice"))?.failures).toBe(0);
  });

  it("writes onto a remembered credential record only while it is current (no skipped revocation, no lost failure count between replicas)", async () => {
    // Two replicas' stores: each remembers the Secret as it last saw it, to save a read.
    // Records live in the credentials namespace and belong to the User's uid: carol is a User
    // the portal's caches know.
    await fixture.objects.create("users", "User", "carol", {
      userName: "carol",
      email: "carol@example.com",
    });
    await waitFor("the portal to see carol", () =>
      Promise.resolve(fixture.stores.directory.validUserFor("carol") !== undefined),
    );
    const owners = credentialOwners(fixture.stores);
    const a = new CredentialStore(env().kubeConfig(), CREDENTIALS_NS, owners);
    const b = new CredentialStore(env().kubeConfig(), CREDENTIALS_NS, owners);
    const now = Date.now();
    await a.update("carol", (r) => ({ ...r, failures: 0 }));
    await b.update("carol", (r) => addSession(r, { id: "s1", expiresAt: now + 60_000 }, now));
    // On a's copy carol has no session, so "revoke if any" would write nothing.
    await a.update("carol", (r) => ((r.sessions?.length ?? 0) > 0 ? revokeSessions(r) : r));
    const revoked = await b.get("carol");
    expect(revoked?.sessions).toBeUndefined();
    expect(revoked?.sessionEpoch).toBe(2);
    // A write onto a copy that is behind is refused and made again on the current record.
    await b.update("carol", (r) => ({ ...r, failures: 1 }));
    await a.update("carol", (r) => ({ ...r, failures: r.failures + 1 }));
    expect((await b.get("carol"))?.failures).toBe(2);
  });
});
