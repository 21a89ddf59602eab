import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { CoreV1Api } from "@kubernetes/client-node";
import {
  CredentialStore,
  credentialSecretName,
} from "../../../src/adapters/k8s/credential-store.ts";
import { defaultCredentialsNamespace } from "../../../src/plan/naming.ts";
import { setupTokenValid } from "../../../src/identity/credentials.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { createOperatorNamespaces, customObjects } from "../../harness/k8s.ts";
import { repoRoot } from "../../harness/paths.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";

const run = promisify(execFile);
const NS = "identity-center-operator";
const CREDENTIALS_NS = defaultCredentialsNamespace(NS);

describe("idc invite and idc reset", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles() });
  const idc = (...args: string[]) =>
    run(process.execPath, [
      path.join(repoRoot, "src/cli.ts"),
      ...args,
      `--kubeconfig=${env().kubeconfigPath}`,
      `--namespace=${NS}`,
    ]).then(
      (r) => ({ code: 0, out: r.stdout }),
      (err: unknown) => {
        const failed = err as { code: number; stdout: string };
        return { code: failed.code, out: failed.stdout };
      },
    );

  let alice = { name: "alice", uid: "" };
  const store = () => new CredentialStore(env().kubeConfig(), CREDENTIALS_NS, () => alice);

  beforeAll(async () => {
    const kc = env().kubeConfig();
    await createOperatorNamespaces(kc, NS);
    const objects = customObjects(kc);
    await objects.create("identitycenters", "IdentityCenter", "default", {
      portal: { hostname: "sso.example.com" },
    });
    await objects.create("users", "User", "alice", {
      userName: "alice",
      email: "alice@example.com",
    });
    const user = await objects.get<{ metadata: { uid: string } }>("users", "alice");
    alice = { name: "alice", uid: user.metadata.uid };
  });

  it("prints a setup link whose token is stored hashed and is valid for 7 days", async () => {
    const { code, out } = await idc("invite", "alice");
    expect(code).toBe(0);
    const url = new URL(out.trim());
    expect(url.origin + url.pathname).toBe("https://sso.example.com/setup");
    const token = url.searchParams.get("token") ?? "";
    expect(token).toMatch(/^[\w-]{43}$/);
    const record = await store().get("alice");
    expect(JSON.stringify(record)).not.toContain(token);
    expect(record && setupTokenValid(record, token, Date.now())).toBe(true);
    expect(record && setupTokenValid(record, token, Date.now() + 7 * 24 * 3600_000 + 1000)).toBe(
      false,
    );
  });

  it("reset revokes the earlier link and bumps the session epoch", async () => {
    const first =
      new URL((await idc("invite", "alice")).out.trim()).searchParams.get("token") ?? "";
    const epoch = (await store().get("alice"))?.sessionEpoch ?? 0;
    const second =
      new URL((await idc("reset", "alice")).out.trim()).searchParams.get("token") ?? "";
    const record = await store().get("alice");
    expect(record?.sessionEpoch).toBe(epoch + 1);
    expect(record && setupTokenValid(record, first, Date.now())).toBe(false);
    expect(record && setupTokenValid(record, second, Date.now())).toBe(true);
  });

  it("invite on an existing record revokes like reset (a link sent to the wrong address is taken back)", async () => {
    const first =
      new URL((await idc("invite", "alice")).out.trim()).searchParams.get("token") ?? "";
    await store().update("alice", (r) => ({ ...r, passwordHash: "scrypt$stand-in" }));
    const epoch = (await store().get("alice"))?.sessionEpoch ?? 0;
    const second =
      new URL((await idc("invite", "alice")).out.trim()).searchParams.get("token") ?? "";
    const record = await store().get("alice");
    expect(record?.sessionEpoch).toBe(epoch + 1);
    expect(record?.passwordHash).toBeUndefined();
    expect(record && setupTokenValid(record, first, Date.now())).toBe(false);
    expect(record && setupTokenValid(record, second, Date.now())).toBe(true);
  });

  it("writes the record into the credentials namespace, bound to the User's uid", async () => {
    await idc("invite", "alice");
    const secret = await env()
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: credentialSecretName("alice"), namespace: CREDENTIALS_NS });
    expect(secret.metadata?.annotations).toMatchObject({
      "identitycenter.dev/user-name": "alice",
      "identitycenter.dev/user-uid": alice.uid,
      "identitycenter.dev/user": "alice",
    });
  });

  it("refuses a userName with no User", async () => {
    expect(await idc("invite", "mallory")).toEqual({
      code: 1,
      out: 'idc: no User with userName "mallory"\n',
    });
  });
});
