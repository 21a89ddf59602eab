// Benchmark (not a test): GetRoleCredentials calls per second through the real portal process
// (`idc portal` from dist/, the portal's ServiceAccount, moto as STS), with the real
// `@aws-sdk/client-sso` GetRoleCredentialsCommand as the client, against direct STS
// AssumeRoleWithSAML calls to the same moto with a pre-built assertion, in the same run.
//
//   npm run bench:sso-credentials
//   (BENCH_ROUNDS=10 rounds of BENCH_SLICE_MS=3000 per side, BENCH_CONCURRENCY=4 calls in flight)
//
// Each call through the portal opens the bearer token, reads alice's credential record from the
// API server (a revoked or deactivated sign-in ends at once), checks her access in the caches,
// builds and signs the console's assertion, calls AssumeRoleWithSAML on moto and answers. The
// two sides take turns in slices so that a neighbour on the shared machine slows both alike;
// each side's CPU is read from /proc for the portal, moto, kube-apiserver and etcd.
import { GetRoleCredentialsCommand, SSOClient } from "@aws-sdk/client-sso";
import { SamlStsClients } from "../src/adapters/aws/saml-sts.ts";
import { AWS_AUDIENCE, awsSignInAttributes } from "../src/saml/aws-sign-in.ts";
import { idpEndpoints } from "../src/saml/metadata.ts";
import { buildSignedResponse } from "../src/saml/response.ts";
import { ssoEndpoints } from "../src/plan/sso-endpoints.ts";
import { loadAverage, processTreeCpuSeconds, quantile } from "./support.ts";
import { startSsoStand, USER } from "./sso-support.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const WARM_UP = 20;
const ACCOUNT = "111111111111";
const ROLE = "ReadOnlyAccess";

interface Side {
  calls: number;
  wallMs: number;
  latenciesMs: number[];
  /** CPU seconds per process while this side ran. */
  cpu: Record<string, number>;
}

const stand = await startSsoStand({
  async beforeController(env, objects) {
    await env.moto.createMemberAccount(ACCOUNT);
    await objects.create("permissionsets", "PermissionSet", "read-only", {
      name: ROLE,
      managedPolicies: ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    });
    await objects.create("accounts", "Account", "production", {
      accountId: ACCOUNT,
      displayName: "Production",
    });
    await objects.create("accountassignments", "AccountAssignment", "alice-ro", {
      principal: { kind: "User", name: USER },
      permissionSet: "read-only",
      accounts: ["production"],
    });
  },
  controllerDone: async (objects) => {
    const account = await objects.get("accounts", "production");
    return (account.status?.roles as { state: string }[] | undefined)?.[0]?.state === "Provisioned";
  },
});
try {
  const { env, portal, accessToken } = stand;
  const account = await stand.objects.get<{
    status: { samlProviderArn: string; roles: { roleArn: string }[] };
  }>("accounts", "production");
  const roleArn = account.status.roles[0]?.roleArn ?? "";
  const samlProviderArn = account.status.samlProviderArn;

  // The portal side: what `fromSSO` / `fromIni` run for a profile (the SSO client of the SDK).
  const sso = new SSOClient({ region: "us-east-1", endpoint: ssoEndpoints(portal.url).ssoPortal });
  const viaPortal = async () => {
    const out = await sso.send(
      new GetRoleCredentialsCommand({ accessToken, accountId: ACCOUNT, roleName: ROLE }),
    );
    if (!out.roleCredentials?.sessionToken) throw new Error("the portal gave no credentials");
  };

  // The direct side: the STS client the portal itself uses, with an assertion like the
  // portal's (same key, issuer, attributes and session length), built once.
  const { xml } = buildSignedResponse(
    {
      issuer: idpEndpoints(portal.url).entityId,
      destination: "https://signin.aws.amazon.com/saml",
      audience: AWS_AUDIENCE,
      nameId: stand.aliceUid,
      nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
      now: new Date(),
      attributes: awsSignInAttributes({
        roleArn,
        samlProviderArn,
        roleSessionName: USER,
        sessionDurationSeconds: 3600,
        principalTags: {},
      }),
    },
    stand.signing,
  );
  const assertion = Buffer.from(xml).toString("base64");
  const sts = new SamlStsClients("us-east-1");
  const direct = async () => {
    const c = await sts.assumeRoleWithSaml({
      endpoint: env.moto.endpoint,
      roleArn,
      principalArn: samlProviderArn,
      assertion,
    });
    if (!c.sessionToken) throw new Error("STS gave no credentials");
  };

  const processes: Record<string, number | undefined> = {
    portal: portal.child.pid,
    moto: env.moto.pid,
    kubeApiServer: env.apiServer.pid,
    etcd: env.etcd.pid,
  };
  const cpuNow = async () =>
    Object.fromEntries(
      await Promise.all(
        Object.entries(processes).map(
          async ([name, pid]) => [name, pid ? await processTreeCpuSeconds(pid) : NaN] as const,
        ),
      ),
    );
  const newSide = (): Side => ({ calls: 0, wallMs: 0, latenciesMs: [], cpu: {} });
  async function slice(op: () => Promise<void>, side: Side): Promise<void> {
    const before = await cpuNow();
    const start = performance.now();
    const worker = async () => {
      while (performance.now() - start < SLICE_MS) {
        const t = performance.now();
        await op();
        side.latenciesMs.push(performance.now() - t);
        side.calls++;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    side.wallMs += performance.now() - start;
    const after = await cpuNow();
    for (const name of Object.keys(processes))
      side.cpu[name] = (side.cpu[name] ?? 0) + (after[name] ?? 0) - (before[name] ?? 0);
  }

  for (let i = 0; i < WARM_UP; i++) {
    await direct();
    await viaPortal();
  }
  const sides = { direct: newSide(), portal: newSide() };
  const loadBefore = loadAverage();
  for (let r = 0; r < ROUNDS; r++) {
    await slice(direct, sides.direct);
    await slice(viaPortal, sides.portal);
  }
  const loadAfter = loadAverage();
  sso.destroy();
  sts.close();

  const summary = (side: Side) => ({
    callsPerSecond: Number(((side.calls * 1000) / side.wallMs).toFixed(1)),
    p50Ms: Number(quantile(side.latenciesMs, 0.5).toFixed(1)),
    p99Ms: Number(quantile(side.latenciesMs, 0.99).toFixed(1)),
    calls: side.calls,
    cpuMsPerCall: Object.fromEntries(
      Object.entries(side.cpu).map(([name, s]) => [
        name,
        Number(((s * 1000) / side.calls).toFixed(2)),
      ]),
    ),
    // Cores kept busy: CPU seconds per second of wall time.
    cores: Object.fromEntries(
      Object.entries(side.cpu).map(([name, s]) => [
        name,
        Number(((s * 1000) / side.wallMs).toFixed(2)),
      ]),
    ),
  });
  const d = summary(sides.direct);
  const p = summary(sides.portal);
  console.log(
    `direct AssumeRoleWithSAML: ${String(d.callsPerSecond)}/s, p50 ${String(d.p50Ms)} ms, p99 ${String(d.p99Ms)} ms`,
  );
  console.log(
    `GetRoleCredentials via the portal: ${String(p.callsPerSecond)}/s, p50 ${String(p.p50Ms)} ms, p99 ${String(p.p99Ms)} ms`,
  );
  console.log(`load average before ${loadBefore}, after ${loadAfter}`);
  console.log(
    JSON.stringify({
      rounds: ROUNDS,
      sliceMs: SLICE_MS,
      concurrency: CONCURRENCY,
      direct: d,
      portal: p,
      ratio: Number((p.callsPerSecond / d.callsPerSecond).toFixed(2)),
      loadAverage: { before: loadBefore, after: loadAfter },
    }),
  );
} finally {
  await stand.stop();
}
