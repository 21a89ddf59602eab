import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialSecretName } from "../../../src/adapters/k8s/credential-store.ts";
import { defaultCredentialsNamespace } from "../../../src/plan/naming.ts";
import { PORTAL_SERVICE_ACCOUNT } from "../../harness/chart.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { customObjects } from "../../harness/k8s.ts";
import { repoRoot } from "../../harness/paths.ts";
import { startPortalProcess, type PortalProcess } from "../../harness/portal-process.ts";
import { freePort } from "../../harness/ports.ts";
import { OPERATOR_NAMESPACE, useControllerProcess } from "../../harness/use-controller.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { waitFor } from "../../harness/wait.ts";

/**
 * Credentials belong to a User (its uid), not to a userName: the real portal (a process, over
 * HTTP, as its ServiceAccount) and the real controller (as the chart's ServiceAccount), with
 * users deleted, created again and renamed through the real API server.
 */
const run = promisify(execFile);
const NS = OPERATOR_NAMESPACE;
const CREDENTIALS_NS = defaultCredentialsNamespace(NS);
const OLD_PASSWORD = "the first alice's passphrase";
const NEW_PASSWORD = "the second alice's passphrase";
const poll = { timeout: 30_000, interval: 200 };
// Each test runs `idc invite` processes and sets passwords through the portal (scrypt): on a
// busy machine that alone can take longer than the default test timeout.
const SLOW_TEST_MS = 180_000;

/** A tiny browser over real HTTP: one cookie jar entry, redirects not followed. */
class Browser {
  cookie = "";
  private readonly base: string;
  constructor(base: string) {
    this.base = base;
  }
  async request(method: "GET" | "POST", url: string, form?: Record<string, string>) {
    const res = await fetch(`${this.base}${url}`, {
      method,
      redirect: "manual",
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    const set = res.headers.getSetCookie()[0];
    if (set) this.cookie = set.split(";")[0] ?? "";
    return { status: res.status, location: res.headers.get("location"), html: await res.text() };
  }
  static csrf(html: string): string {
    return /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
  }
  /** Signs in with a password (MFA is off for this instance); returns the POST's status. */
  async signIn(userName: string, password: string): Promise<number> {
    this.cookie = "";
    const form = await this.request("GET", "/login");
    const res = await this.request("POST", "/login", {
      csrf: Browser.csrf(form.html),
      username: userName,
      password,
    });
    return res.status;
  }
  /** Whether the cookie opens the portal's start page (a 200, not a redirect to /login). */
  async portalOpens(): Promise<boolean> {
    return (await this.request("GET", "/")).status === 200;
  }
}

describe("credentials belong to a User's uid, not to its userName", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles() });
  useControllerProcess(env, {
    identity: "credential-binding",
    args: ["--leader-elect=false", "--portal-image=registry.example.com/idc:1.0.0"],
  });
  let portal: PortalProcess;
  let objects: ReturnType<typeof customObjects>;

  const idc = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [
      path.join(repoRoot, "src/cli.ts"),
      ...args,
      `--kubeconfig=${env().kubeconfigPath}`,
      `--namespace=${NS}`,
    ]);
    return new URL(stdout.trim());
  };
  /** The uid alice's credential record is bound to; undefined when there is no record. */
  const record = () =>
    env()
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: credentialSecretName("alice"), namespace: CREDENTIALS_NS })
      .then(
        (s) => s.metadata?.annotations?.["identitycenter.dev/user-uid"] ?? "bound to no uid",
        () => undefined,
      );
  const uidOf = async (name: string) =>
    (await objects.get<{ metadata: { uid: string } }>("users", name)).metadata.uid;

  /** Invites the User with userName alice and sets `password` through the real setup page. */
  const onboard = async (password: string) => {
    const link = await idc("invite", "alice");
    const browser = new Browser(portal.url);
    // The portal serves the link once its cache knows the User the record was made for.
    await expect
      .poll(
        async () => (await browser.request("GET", `${link.pathname}${link.search}`)).status,
        poll,
      )
      .toBe(200);
    const page = await browser.request("GET", `${link.pathname}${link.search}`);
    const done = await browser.request("POST", "/setup", {
      csrf: Browser.csrf(page.html),
      user: "alice",
      token: link.searchParams.get("token") ?? "",
      password,
    });
    expect(done.status).toBe(303);
  };

  beforeAll(async () => {
    objects = customObjects(env().kubeConfig());
    const port = await freePort();
    await objects.create("identitycenters", "IdentityCenter", "default", {
      portal: { hostname: "sso.example.com", externalUrl: `http://127.0.0.1:${String(port)}` },
      signIn: { mfa: "disabled" },
    });
    portal = startPortalProcess({
      kubeconfig: await env().kubeconfigFor(PORTAL_SERVICE_ACCOUNT),
      workDir: env().workDir,
      namespace: NS,
      port,
    });
    await waitFor("the portal to be ready", () => portal.ready(), 60_000);
  });
  afterAll(async () => {
    // Fails the file if the API server refused the portal anything.
    await portal.stop();
  });

  it(
    "refuses the old cookie and the old password after the User is deleted and created again with the same userName",
    async () => {
      await objects.create("users", "User", "alice", {
        userName: "alice",
        email: "alice@example.com",
      });
      await onboard(OLD_PASSWORD);
      const first = new Browser(portal.url);
      expect(await first.signIn("alice", OLD_PASSWORD)).toBe(303);
      expect(await first.portalOpens()).toBe(true);
      const oldUid = await uidOf("alice");

      await objects.delete("users", "alice");
      await objects.create("users", "User", "alice", {
        userName: "alice",
        email: "alice.second@example.com",
      });
      // The controller removes the record of the User that went.
      await expect.poll(record, poll).toBeUndefined();
      expect(await first.portalOpens()).toBe(false);
      expect(await new Browser(portal.url).signIn("alice", OLD_PASSWORD)).toBe(401);

      // Once the new alice is invited and sets her own password, the first one's cookie still
      // opens nothing (the new record's session epoch is no defence: it starts where the old
      // one did), and only the new password signs in.
      await onboard(NEW_PASSWORD);
      expect(await record()).not.toBe(oldUid);
      expect(await record()).toBe(await uidOf("alice"));
      expect(await first.portalOpens()).toBe(false);
      expect(await new Browser(portal.url).signIn("alice", OLD_PASSWORD)).toBe(401);
      const second = new Browser(portal.url);
      expect(await second.signIn("alice", NEW_PASSWORD)).toBe(303);
      expect(await second.portalOpens()).toBe(true);
    },
    SLOW_TEST_MS,
  );

  it(
    "an invite of a User who has credentials revokes their sessions and password, like a reset",
    async () => {
      const signedIn = new Browser(portal.url);
      expect(await signedIn.signIn("alice", NEW_PASSWORD)).toBe(303);
      expect(await signedIn.portalOpens()).toBe(true);
      await idc("invite", "alice");
      expect(await signedIn.portalOpens()).toBe(false);
      expect(await new Browser(portal.url).signIn("alice", NEW_PASSWORD)).toBe(401);
      await onboard(NEW_PASSWORD);
    },
    SLOW_TEST_MS,
  );

  it("refuses the old cookie and password after a rename, to the renamed User and to a new holder of the userName", async () => {
    const signedIn = new Browser(portal.url);
    expect(await signedIn.signIn("alice", NEW_PASSWORD)).toBe(303);
    expect(await signedIn.portalOpens()).toBe(true);

    await objects.patchSpec("users", "alice", { userName: "alice.renamed" });
    await objects.create("users", "User", "mallory", {
      userName: "alice",
      email: "mallory@example.com",
    });
    // The record of the old userName goes with the rename.
    await expect.poll(record, poll).toBeUndefined();
    expect(await signedIn.portalOpens()).toBe(false);
    expect(await new Browser(portal.url).signIn("alice", NEW_PASSWORD)).toBe(401);
    expect(await new Browser(portal.url).signIn("alice.renamed", NEW_PASSWORD)).toBe(401);
  });
});
