// Benchmark (not a test): password sign-ins per second through the real portal app, against raw
// Argon2id verifications at the same cost (the instance's, OWASP's minimum by default). The user has MFA disabled, so one
// sign-in is one password check: GET /login (form and CSRF cookie), then POST /login, which
// reads the user's credentials Secret from a real kube-apiserver, counts the attempt in a
// conditional write, verifies the password and writes the Secret again (failures cleared, the
// new session listed) before redirecting to the portal.
//
//   npm run bench:password-login      (BENCH_LOGINS=20 of each by default)
//
// One sign-in at a time, so the hash runs on one core (bench:login-storm loads every core). Raw verifications and sign-ins take turns,
// so both see the same machine.
import { createPrivateKey, randomBytes } from "node:crypto";
import { CredentialStore } from "../src/adapters/k8s/credential-store.ts";
import { createStores, credentialOwners, portalInformers } from "../src/adapters/k8s/stores.ts";
import { createLogger } from "../src/observability/logger.ts";
import { buildPortalApp } from "../src/portal/app.ts";
import { hashPassword, verifyPassword } from "../src/portal/password.ts";
import { startInformers } from "../src/runtime/informer.ts";
import { certificateBase64, createSigningIdentity } from "../src/saml/signing-identity.ts";
import { createNamespace, customObjects } from "../test/harness/k8s.ts";
import { waitFor } from "../test/harness/wait.ts";
import { startBenchEnvironment } from "./support.ts";

const LOGINS = Number(process.env.BENCH_LOGINS ?? 20);
const NAMESPACE = "identity-center-operator";
const PASSWORD = "correct horse battery staple";

const env = await startBenchEnvironment();
try {
  const kc = env.kubeConfig();
  await createNamespace(kc, NAMESPACE);
  const objects = customObjects(kc);
  await objects.create("identitycenters", "IdentityCenter", "default", {
    portal: { hostname: "sso.example.com", externalUrl: "http://127.0.0.1:8080" },
    signIn: { mfa: "disabled" },
  });
  await objects.create("users", "User", "alice", {
    userName: "alice",
    email: "alice@example.com",
  });
  const log = createLogger("silent");
  const stores = createStores(kc, log);
  const informers = portalInformers(stores);
  await startInformers(informers);
  await waitFor(
    "the portal's caches to hold alice",
    () => Promise.resolve(stores.directory.validUserFor("alice") !== undefined),
    30_000,
  );
  // A record belongs to a User's uid, so it is written once the caches know the User.
  const stored = await hashPassword(PASSWORD);
  const credentials = new CredentialStore(kc, NAMESPACE, credentialOwners(stores));
  await credentials.update("alice", (r) => ({ ...r, passwordHash: stored }));
  const signing = createSigningIdentity("sso.example.com", new Date());
  const app = buildPortalApp({
    stores,
    instanceName: "default",
    credentials,
    sessionKey: randomBytes(32),
    signing: {
      privateKey: createPrivateKey(signing.privateKeyPem),
      certificatePem: signing.certificatePem,
      certificateBase64: certificateBase64(signing.certificatePem),
    },
    // The bench opens no application.
    applicationKeys: { signingFor: () => Promise.resolve(undefined) },
    stsEndpoint: undefined,
    region: "us-east-1",
    log,
    // Measures the sign-in itself: the per-address throttle would stop one client at 20/min.
    throttle: { perAddress: { max: 1_000_000 }, global: { max: 1_000_000 } },
  });
  const base = await app.listen({ host: "127.0.0.1", port: 0 });

  async function signIn(): Promise<void> {
    const page = await fetch(`${base}/login`);
    const cookie = (page.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? "";
    const res = await fetch(`${base}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf, username: "alice", password: PASSWORD }).toString(),
    });
    await res.arrayBuffer();
    if (res.status !== 303 || res.headers.get("location") !== "/")
      throw new Error(`sign-in answered ${String(res.status)}, not a redirect to the portal`);
  }
  async function timed(op: () => Promise<unknown>): Promise<number> {
    const start = performance.now();
    await op();
    return performance.now() - start;
  }

  // One of each first: the JIT, the connection pool to the API server, the informers' first
  // reads.
  await verifyPassword(PASSWORD, stored);
  await signIn();
  let rawMs = 0;
  let loginMs = 0;
  for (let i = 0; i < LOGINS; i++) {
    rawMs += await timed(async () => {
      if (!(await verifyPassword(PASSWORD, stored))) throw new Error("the password did not verify");
    });
    loginMs += await timed(signIn);
  }
  const rawPerSecond = (LOGINS * 1000) / rawMs;
  const loginsPerSecond = (LOGINS * 1000) / loginMs;
  console.log(
    `raw Argon2id verifications: ${rawPerSecond.toFixed(2)}/s (${(rawMs / LOGINS).toFixed(0)} ms each)`,
  );
  console.log(
    `password sign-ins (GET + POST /login): ${loginsPerSecond.toFixed(2)}/s (${(loginMs / LOGINS).toFixed(0)} ms each)`,
  );
  await app.close();
  for (const informer of informers) await informer.stop();
  console.log(
    JSON.stringify({
      logins: LOGINS,
      argon2idVerificationsPerSecond: Number(rawPerSecond.toFixed(2)),
      loginsPerSecond: Number(loginsPerSecond.toFixed(2)),
      loginToRawRatio: Number((loginsPerSecond / rawPerSecond).toFixed(2)),
    }),
  );
} finally {
  await env.stop();
}
