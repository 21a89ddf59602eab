import { readFile } from "node:fs/promises";
import path from "node:path";
import { createPrivateKey } from "node:crypto";
import { CoreV1Api, CustomObjectsApi, type V1Secret } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CredentialStore } from "../../../src/adapters/k8s/credential-store.ts";
import { loadKubeConfig } from "../../../src/adapters/k8s/kube-config.ts";
import { ScimTokenStore, cachedScimTokens } from "../../../src/adapters/k8s/scim-tokens.ts";
import {
  createStores,
  credentialOwners,
  portalInformers,
} from "../../../src/adapters/k8s/stores.ts";
import { createLogger } from "../../../src/observability/logger.ts";
import { buildPortalApp } from "../../../src/portal/app.ts";
import { hashPassword } from "../../../src/portal/password.ts";
import { startInformers } from "../../../src/runtime/informer.ts";
import { certificateBase64 } from "../../../src/saml/signing-identity.ts";
import {
  PORTAL_SERVICE_ACCOUNT,
  CONTROLLER_SERVICE_ACCOUNT,
  applyAll,
  chartControllerKubeconfig,
  renderedChart,
} from "../../harness/chart.ts";
import { spawnCli } from "../../harness/cli-process.ts";
import { startControllerProcess } from "../../harness/controller-process.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { createOperatorNamespaces, customObjects } from "../../harness/k8s.ts";
import { freePort } from "../../harness/ports.ts";
import { runScim2Tester } from "../../harness/scim2-tester.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { waitFor } from "../../harness/wait.ts";
import { Client } from "./client.ts";
import { CREDENTIALS_NS, NS } from "./fixture.ts";

const GROUP = "identitycenter.dev";
const VERSION = "v1alpha1";
const PASSWORD = "a long enough passphrase";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

type Json = Record<string, unknown>;
interface ScimResponse {
  status: number;
  body: Json;
  headers: Headers;
}

describe("SCIM 2.0 provisioning", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles() });
  let base = "";
  let token = "";
  let objects: ReturnType<typeof customObjects>;
  let credentials: CredentialStore;
  let app: ReturnType<typeof buildPortalApp>;
  let stop: () => Promise<void> = async () => {};

  /** `idc scim-token ...` as the admin; resolves with its output. */
  async function idc(...args: string[]): Promise<{ code: number | null; out: string }> {
    const logFile = path.join(env().workDir, `idc-${String(Date.now())}-${args[1] ?? ""}.log`);
    const cli = spawnCli([...args, `--kubeconfig=${env().kubeconfigPath}`, `--namespace=${NS}`], {
      logFile,
    });
    const code = await cli.exited;
    return { code, out: await readFile(logFile, "utf8") };
  }

  async function scim(
    method: string,
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ScimResponse> {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/scim+json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text ? (JSON.parse(text) as Json) : {},
      headers: res.headers,
    };
  }

  const userBody = (userName: string, more: Json = {}) => ({
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
    userName,
    emails: [
      { value: `${userName.split("@")[0] ?? userName}@example.com`, type: "work", primary: true },
    ],
    active: true,
    ...more,
  });

  const api = () => env().kubeConfig().makeApiClient(CustomObjectsApi);
  const getObject = async (plural: string, name: string) =>
    (await api().getClusterCustomObject({ group: GROUP, version: VERSION, plural, name })) as {
      metadata: {
        name: string;
        labels?: Record<string, string>;
        annotations?: Record<string, string>;
        resourceVersion: string;
        generation?: number;
      };
      spec: Json;
    };
  /** The User or Group object behind a SCIM id (by its label). */
  async function objectOf(plural: string, id: string) {
    const list = (await api().listClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural,
      labelSelector: `identitycenter.dev/scim-id=${id}`,
    })) as { items: Awaited<ReturnType<typeof getObject>>[] };
    const found = list.items[0];
    if (!found) throw new Error(`no ${plural} object has SCIM id ${id}`);
    return found;
  }

  beforeAll(async () => {
    const e = env();
    const kc = e.kubeConfig();
    await createOperatorNamespaces(kc, NS);
    objects = customObjects(kc);
    const controllerKubeconfig = await chartControllerKubeconfig(e);
    // The chart's admission policy: what keeps GitOps and SCIM apart.
    const policies = (await renderedChart()).filter((o) =>
      o.kind.startsWith("ValidatingAdmissionPolicy"),
    );
    expect(policies.map((p) => p.kind).sort()).toEqual([
      "ValidatingAdmissionPolicy",
      "ValidatingAdmissionPolicyBinding",
    ]);
    await applyAll(e, policies, { fieldManager: "helm" });
    const port = await freePort();
    const portalUrl = `http://127.0.0.1:${String(port)}`;
    base = `${portalUrl}/scim/v2`;
    await objects.create("identitycenters", "IdentityCenter", "default", {
      portal: { hostname: "sso.example.com", externalUrl: portalUrl },
      signIn: { mfa: "disabled" },
      identitySource: { type: "internal", scim: { enabled: true } },
    });
    const controller = await startControllerProcess({
      kubeconfig: controllerKubeconfig,
      workDir: e.workDir,
      identity: "scim-test",
      namespace: NS,
      // An image makes the controller create the portal's ServiceAccount, Role and bindings.
      args: ["--leader-elect=false", "--portal-image=identity-center-operator:test"],
    });
    // The portal runs as its ServiceAccount, with the chart's and the controller's RBAC only.
    const portalKc = loadKubeConfig(await e.kubeconfigFor(PORTAL_SERVICE_ACCOUNT));
    let secret: V1Secret | undefined;
    await waitFor("the portal's ServiceAccount to read the signing Secret", async () => {
      secret = await portalKc.makeApiClient(CoreV1Api).readNamespacedSecret({
        name: "identitycenter-default-signing",
        namespace: NS,
      });
      return true;
    });
    const certificatePem = Buffer.from(secret?.data?.["tls.crt"] ?? "", "base64").toString();
    const keyPem = Buffer.from(secret?.data?.["tls.key"] ?? "", "base64").toString();
    const log = createLogger("silent");
    const stores = createStores(portalKc, log);
    const informers = portalInformers(stores);
    await startInformers(informers);
    credentials = new CredentialStore(portalKc, CREDENTIALS_NS, credentialOwners(stores));
    app = buildPortalApp({
      stores,
      instanceName: "default",
      credentials,
      sessionKey: Buffer.alloc(32, 7),
      signing: {
        privateKey: createPrivateKey(keyPem),
        certificatePem,
        certificateBase64: certificateBase64(certificatePem),
      },
      // SCIM signs nothing: no application is opened through this portal.
      applicationKeys: { signingFor: () => Promise.resolve(undefined) },
      stsEndpoint: undefined,
      region: "us-east-1",
      log,
      throttle: { perAddress: { max: 10_000 }, global: { max: 10_000 } },
      scim: {
        users: stores.users.client,
        groups: stores.groups.client,
        // Re-read often, so the revocation test does not wait the production 5 s.
        tokens: cachedScimTokens(new ScimTokenStore(portalKc, NS, "default"), 200),
      },
    });
    await app.listen({ host: "127.0.0.1", port });
    const created = await idc("scim-token", "create", "entra", "--expires", "30d");
    expect(created.code).toBe(0);
    token = /^(idcscim_\S+)$/m.exec(created.out)?.[1] ?? "";
    expect(token).not.toBe("");
    stop = async () => {
      await app.close();
      for (const i of informers) await i.stop();
      await controller.stop("SIGTERM");
    };
  });
  afterAll(async () => {
    await stop();
  });

  it("publishes the SCIM base URL in IdentityCenter.status.endpoints", async () => {
    await waitFor("status.endpoints.scim", async () => {
      const ic = await objects.get("identitycenters", "default");
      return (ic.status?.endpoints as { scim?: string } | undefined)?.scim === base;
    });
    const ic = await objects.get("identitycenters", "default");
    expect((ic.status?.endpoints as { scim?: string }).scim).toBe(base);
  });

  it("answers 401 in SCIM's error format without a valid, unrevoked token", async () => {
    const none = await fetch(`${base}/Users`);
    expect(none.status).toBe(401);
    expect(none.headers.get("content-type")).toContain("application/scim+json");
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect(await none.json()).toMatchObject({
      schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"],
      status: "401",
    });
    const wrong = await fetch(`${base}/Users`, { headers: { authorization: `Bearer ${token}x` } });
    expect(wrong.status).toBe(401);
    // A second token works until it is revoked; `list` shows both, never a token itself.
    const okta = await idc("scim-token", "create", "okta");
    const oktaToken = /^(idcscim_\S+)$/m.exec(okta.out)?.[1] ?? "";
    const asOkta = () =>
      fetch(`${base}/Users`, { headers: { authorization: `Bearer ${oktaToken}` } });
    expect((await asOkta()).status).toBe(200);
    const listed = await idc("scim-token", "list");
    expect(listed.out).toMatch(/^entra\t.*\tvalid$/m);
    expect(listed.out).toMatch(/^okta\t.*\tvalid$/m);
    expect(listed.out).not.toContain("idcscim_");
    const secret = await env()
      .kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedSecret({ name: "identitycenter-default-scim-tokens", namespace: NS });
    expect(JSON.stringify(secret.data)).not.toContain(Buffer.from(oktaToken).toString("base64"));
    expect((await idc("scim-token", "revoke", "okta")).code).toBe(0);
    await waitFor("the revoked token to be refused", async () => (await asOkta()).status === 401);
  });

  it("passes every check scim2-tester makes", async () => {
    const results = await runScim2Tester(base, token);
    const failed = results.filter((r) => r.status !== "SUCCESS");
    expect(failed).toEqual([]);
    expect(results.filter((r) => r.status === "SUCCESS").length).toBeGreaterThan(20);
  }, 300_000);

  it("replays Entra ID's provisioning: lookups by filter, PATCH with capitalised ops, strings for booleans, dotted keys, member removal by value", async () => {
    const missing = await scim(
      "GET",
      `/Users?filter=${encodeURIComponent('userName eq "Ada@Example.com"')}`,
    );
    expect(missing.body).toMatchObject({ totalResults: 0, Resources: [] });
    const created = await scim(
      "POST",
      "/Users",
      userBody("ada@example.com", {
        externalId: "0e4b-entra",
        name: { givenName: "Ada", familyName: "Lovelace" },
        [ENTERPRISE]: { department: "Engines", employeeNumber: "1815" },
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
      }),
    );
    expect(created.status).toBe(201);
    const id = String(created.body.id);
    expect(created.headers.get("location")).toBe(`${base}/Users/${id}`);
    // userName is caseExact false; externalId is looked up as given.
    const byName = await scim(
      "GET",
      `/Users?filter=${encodeURIComponent('userName eq "ADA@example.COM"')}`,
    );
    expect(byName.body).toMatchObject({ totalResults: 1, Resources: [{ id }] });
    const byExternal = await scim(
      "GET",
      `/Users?filter=${encodeURIComponent('externalId eq "0e4b-entra"')}`,
    );
    expect(byExternal.body).toMatchObject({ totalResults: 1 });
    const patched = await scim("PATCH", `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "Replace", value: { displayName: "Countess", "name.givenName": "Augusta" } },
        { op: "Replace", path: 'emails[type eq "work"].value', value: "augusta@example.com" },
        { op: "Add", path: `${ENTERPRISE}:costCenter`, value: "CC-1" },
      ],
    });
    expect(patched.status).toBe(200);
    const user = await objectOf("users", id);
    expect(user.metadata.labels?.["identitycenter.dev/managed-by"]).toBe("scim");
    expect(user.metadata.annotations?.["identitycenter.dev/scim-external-id"]).toBe("0e4b-entra");
    expect(user.spec).toMatchObject({
      userName: "ada@example.com",
      email: "augusta@example.com",
      displayName: "Countess",
      name: { givenName: "Augusta", familyName: "Lovelace" },
      active: true,
      attributes: { department: "Engines", employeeNumber: "1815", costCenter: "CC-1" },
    });
    const soft = await scim("PATCH", `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "Replace", path: "active", value: "False" }],
    });
    expect(soft.body.active).toBe(false);
    expect((await objectOf("users", id)).spec.active).toBe(false);

    const others = await Promise.all(
      ["b", "c", "d"].map(async (n) =>
        String((await scim("POST", "/Users", userBody(`${n}@example.com`))).body.id),
      ),
    );
    const lookup = await scim(
      "GET",
      `/Groups?filter=${encodeURIComponent('displayName eq "Engineers"')}&excludedAttributes=members`,
    );
    expect(lookup.body).toMatchObject({ totalResults: 0 });
    const group = await scim("POST", "/Groups", {
      schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
      displayName: "Engineers",
      externalId: "eng-entra",
    });
    expect(group.status).toBe(201);
    const gid = String(group.body.id);
    const add = await scim("PATCH", `/Groups/${gid}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "Add", path: "members", value: [id, ...others].map((value) => ({ value })) },
      ],
    });
    expect(add.status).toBe(200);
    // Entra's removal names members under path "members": only they go.
    await scim("PATCH", `/Groups/${gid}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "Remove", path: "members", value: [{ value: others[0] }] }],
    });
    await scim("PATCH", `/Groups/${gid}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "Remove", path: `members[value eq "${others[1] ?? ""}"]` }],
    });
    const stored = await objectOf("groups", gid);
    expect(stored.spec.members).toEqual(["ada@example.com", "d@example.com"]);
    const found = await scim(
      "GET",
      `/Groups?filter=${encodeURIComponent('displayName eq "engineers"')}&excludedAttributes=members`,
    );
    expect(found.body).toMatchObject({
      totalResults: 1,
      Resources: [{ id: gid, displayName: "Engineers" }],
    });
    expect((found.body.Resources as Json[])[0]).not.toHaveProperty("members");
    // Hard deprovisioning: the user goes, and with it its membership of SCIM groups.
    expect((await scim("DELETE", `/Users/${id}`)).status).toBe(204);
    expect((await scim("GET", `/Users/${id}`)).status).toBe(404);
    expect((await objectOf("groups", gid)).spec.members).toEqual(["d@example.com"]);
  });

  it("replays Okta's provisioning: pages with startIndex and count, PUT of the whole user, ETags", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push(
        String((await scim("POST", "/Users", userBody(`okta${String(i)}@example.com`))).body.id),
      );
    const filter = encodeURIComponent('userName sw "okta"');
    const page1 = await scim("GET", `/Users?filter=${filter}&startIndex=1&count=2`);
    const page3 = await scim("GET", `/Users?filter=${filter}&startIndex=5&count=2`);
    expect(page1.body).toMatchObject({
      schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
      totalResults: 5,
      itemsPerPage: 2,
      startIndex: 1,
    });
    expect(page3.body).toMatchObject({ totalResults: 5, itemsPerPage: 1, startIndex: 5 });
    const id = ids[0] ?? "";
    const current = await scim("GET", `/Users/${id}`);
    const etag = current.headers.get("etag") ?? "";
    expect(etag).toMatch(/^W\/".+"$/);
    expect((await scim("GET", `/Users/${id}`, undefined, { "if-none-match": etag })).status).toBe(
      304,
    );
    const put = await scim(
      "PUT",
      `/Users/${id}`,
      userBody("okta0@example.com", { displayName: "Okta Zero", active: false }),
      { "if-match": etag },
    );
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ active: false, displayName: "Okta Zero" });
    // The same PUT again writes nothing: same version, same generation, same lastModified.
    const before = await objectOf("users", id);
    const again = await scim(
      "PUT",
      `/Users/${id}`,
      userBody("okta0@example.com", { displayName: "Okta Zero", active: false }),
    );
    expect(again.headers.get("etag")).toBe(put.headers.get("etag"));
    const after = await objectOf("users", id);
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(after.metadata.annotations).toEqual(before.metadata.annotations);
    const stale = await scim("PUT", `/Users/${id}`, userBody("okta0@example.com"), {
      "if-match": etag,
    });
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({ status: "412" });
    const group = await scim("POST", "/Groups", {
      displayName: "Okta Everyone",
      members: [{ value: ids[1] }],
    });
    const gid = String(group.body.id);
    await scim("PATCH", `/Groups/${gid}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "add", path: "members", value: [{ value: ids[2] }, { value: ids[3] }] }],
    });
    await scim("PATCH", `/Groups/${gid}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "remove", path: `members[value eq "${ids[1] ?? ""}"]` }],
    });
    const got = await scim("GET", `/Groups/${gid}`);
    expect((got.body.members as Json[]).map((m) => m.value).sort()).toEqual(
      [ids[2], ids[3]].sort(),
    );
    expect((await objectOf("groups", gid)).spec.members).toEqual([
      "okta2@example.com",
      "okta3@example.com",
    ]);
    const unknown = await scim("PATCH", `/Groups/${gid}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "add", path: "members", value: [{ value: "no-such-user" }] }],
    });
    expect(unknown.body).toMatchObject({ status: "400", scimType: "invalidValue" });
    const badFilter = await scim("GET", `/Users?filter=${encodeURIComponent("userName eq")}`);
    expect(badFilter.body).toMatchObject({ status: "400", scimType: "invalidFilter" });
    const taken = await scim("POST", "/Users", userBody("OKTA1@example.com"));
    expect(taken.body).toMatchObject({ status: "409", scimType: "uniqueness" });
  });

  it("changes thousands of group members in one PATCH", async () => {
    const ids: string[] = [];
    const n = 1000;
    for (let i = 0; i < n; i += 50) {
      const batch = Array.from(
        { length: Math.min(50, n - i) },
        (_, j) => `bulk${String(i + j)}@example.com`,
      );
      const made = await Promise.all(batch.map((u) => scim("POST", "/Users", userBody(u))));
      ids.push(...made.map((r) => String(r.body.id)));
    }
    const group = await scim("POST", "/Groups", { displayName: "Everyone" });
    const gid = String(group.body.id);
    const add = await scim("PATCH", `/Groups/${gid}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "Add", path: "members", value: ids.map((value) => ({ value })) }],
    });
    expect(add.status).toBe(200);
    expect((await objectOf("groups", gid)).spec.members).toHaveLength(n);
    const remove = await scim("PATCH", `/Groups/${gid}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "Remove", path: "members", value: ids.slice(0, 600).map((value) => ({ value })) },
      ],
    });
    expect(remove.status).toBe(200);
    const members = (await objectOf("groups", gid)).spec.members as string[];
    expect(members).toHaveLength(n - 600);
    expect(members[0]).toBe("bulk600@example.com");
  }, 120_000);

  it("ends a live portal session at once when SCIM deprovisions the user (active false, then DELETE)", async () => {
    async function signedIn(userName: string) {
      const passwordHash = await hashPassword(PASSWORD);
      await credentials.update(userName, (r) => ({ ...r, passwordHash }));
      const client = new Client(app);
      const login = await client.request("GET", "/login");
      const res = await client.request("POST", "/login", {
        csrf: Client.csrf(login.body),
        username: userName,
        password: PASSWORD,
      });
      expect(res.statusCode).toBe(303);
      expect((await client.request("GET", "/")).statusCode).toBe(200);
      return client;
    }
    const soft = String((await scim("POST", "/Users", userBody("grace@example.com"))).body.id);
    const hard = String((await scim("POST", "/Users", userBody("hedy@example.com"))).body.id);
    await waitFor("the portal's cache to have both users", () =>
      Promise.resolve(
        app.portal.stores.directory.validUserFor("hedy@example.com") !== undefined &&
          app.portal.stores.directory.validUserFor("grace@example.com") !== undefined,
      ),
    );
    const grace = await signedIn("grace@example.com");
    const hedy = await signedIn("hedy@example.com");
    await scim("PATCH", `/Users/${soft}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", value: { active: "False" } }],
    });
    await scim("DELETE", `/Users/${hard}`);
    await waitFor(
      "both sessions to end",
      async () =>
        (await grace.request("GET", "/")).statusCode === 303 &&
        (await hedy.request("GET", "/")).statusCode === 303,
    );
    expect((await grace.request("GET", "/")).headers.location).toBe("/login");
    // Ended on the server too: reactivating does not bring the session back.
    await scim("PATCH", `/Users/${soft}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", path: "active", value: true }],
    });
    await waitFor("grace active again in the cache", () =>
      Promise.resolve(
        app.portal.stores.users.informer
          .list()
          .some((u) => u.spec.userName === "grace@example.com" && u.spec.active),
      ),
    );
    expect((await grace.request("GET", "/")).statusCode).toBe(303);
    expect((await credentials.get("grace@example.com"))?.sessions ?? []).toEqual([]);
  });

  it("the API server refuses GitOps edits of a SCIM-owned User (managed by SCIM), and portal writes of GitOps objects", async () => {
    const id = String((await scim("POST", "/Users", userBody("ida@example.com"))).body.id);
    const user = await objectOf("users", id);
    const edit = objects.patchSpec("users", user.metadata.name, {
      displayName: "edited by GitOps",
    });
    await expect(edit).rejects.toMatchObject({ code: 403 });
    await expect(edit).rejects.toThrow(/managed by SCIM/);
    await expect(objects.delete("users", user.metadata.name)).rejects.toThrow(/managed by SCIM/);
    await expect(
      objects.setLabels("users", user.metadata.name, { "identitycenter.dev/scim-id": id }),
    ).rejects.toThrow(/managed by SCIM/);
    // Nobody but a portal may claim an object for SCIM either.
    await expect(
      api().createClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: "users",
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: "User",
          metadata: { name: "claimed", labels: { "identitycenter.dev/managed-by": "scim" } },
          spec: { userName: "claimed", email: "claimed@example.com" },
        },
      }),
    ).rejects.toThrow(/managed by SCIM/);
    // The portal (a compromised one, say) cannot write a GitOps User; the controller cannot
    // write Users at all, though RBAC lets the namespace's ServiceAccounts.
    await objects.create("users", "User", "gitops-jane", {
      userName: "jane",
      email: "jane@example.com",
    });
    for (const who of [PORTAL_SERVICE_ACCOUNT, CONTROLLER_SERVICE_ACCOUNT]) {
      const as = loadKubeConfig(await env().kubeconfigFor(who)).makeApiClient(CustomObjectsApi);
      const jane = await getObject("users", "gitops-jane");
      await expect(
        as.replaceClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: "users",
          name: "gitops-jane",
          body: { ...jane, spec: { ...jane.spec, displayName: "owned" } },
        }),
      ).rejects.toMatchObject({ code: 403 });
    }
    expect((await getObject("users", "gitops-jane")).spec.displayName).toBeUndefined();
  });

  it("SCIM refuses to touch a GitOps-owned User with a clear SCIM error", async () => {
    await objects.create("users", "User", "gitops-carol", {
      userName: "carol",
      email: "carol@example.com",
    });
    const taken = await scim("POST", "/Users", userBody("Carol"));
    expect(taken.status).toBe(409);
    expect(taken.body).toMatchObject({ scimType: "uniqueness" });
    expect(String(taken.body.detail)).toMatch(/not managed by SCIM/);
    // GitOps copied a SCIM id onto its own object: SCIM still leaves it alone.
    await api().createClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: "users",
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: "User",
        metadata: { name: "gitops-dave", labels: { "identitycenter.dev/scim-id": "copied-id" } },
        spec: { userName: "dave", email: "dave@example.com" },
      },
    });
    const patch = await scim("PATCH", "/Users/copied-id", {
      schemas: [PATCH_OP],
      Operations: [{ op: "replace", path: "active", value: false }],
    });
    expect(patch.status).toBe(403);
    expect(patch.body).toMatchObject({
      schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"],
      status: "403",
    });
    expect(String(patch.body.detail)).toMatch(/not managed by SCIM/);
    expect((await getObject("users", "gitops-dave")).spec.active).toBe(true);
    const listed = await scim("GET", `/Users?filter=${encodeURIComponent('userName eq "carol"')}`);
    expect(listed.body).toMatchObject({ totalResults: 0 });
  });
});
