import { generateKeyPairSync, randomBytes } from "node:crypto";
import { request } from "node:https";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { stringify } from "yaml";
import { freePort } from "./ports.ts";
import { startServer, waitUntil, type ServerProcess } from "./process.ts";

/** A static bearer token identity, as in the API server's --token-auth-file. */
export interface TokenUser {
  token: string;
  user: string;
  uid: string;
  groups: string[];
}

export interface KubeApiServerOptions {
  binary: string;
  etcdUrl: string;
  workDir: string;
  /** Extra identities, for example `system:serviceaccount:<ns>:<name>` to test a chart's RBAC. */
  extraUsers?: TokenUser[];
}

function quoteCsv(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}

/** A response body: JSON as the API server sends it, or the text of a plain-text error. */
function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * A real kube-apiserver on a free loopback port with RBAC, an admin token in system:masters,
 * and its own etcd prefix. It can be stopped and started again on the same port and
 * certificates, so existing kubeconfigs and clients keep working across a restart.
 */
export class KubeApiServer {
  readonly adminToken = randomBytes(24).toString("hex");
  readonly port: number;
  /**
   * When the process was starting, from launch to ready. Its authorizer may refuse requests
   * until its RBAC caches have synced, so a 403 then says nothing about a role's rules.
   */
  readonly startingPeriods: { from: number; to: number }[] = [];
  private server: ServerProcess | undefined;
  private readonly dir: string;
  private readonly options: KubeApiServerOptions;

  private constructor(options: KubeApiServerOptions, port: number) {
    this.options = options;
    this.port = port;
    this.dir = path.join(options.workDir, "kube-apiserver");
  }

  static async start(options: KubeApiServerOptions): Promise<KubeApiServer> {
    const apiServer = new KubeApiServer(options, await freePort());
    await apiServer.prepare();
    await apiServer.startProcess();
    return apiServer;
  }

  /** Its guard script's pid while running (the API server is a child of it). */
  get pid(): number | undefined {
    return this.server?.pid;
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  private async prepare(): Promise<void> {
    await mkdir(path.join(this.dir, "certs"), { recursive: true });
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await writeFile(
      path.join(this.dir, "sa.key"),
      privateKey.export({ type: "pkcs8", format: "pem" }),
    );
    await writeFile(
      path.join(this.dir, "sa.pub"),
      publicKey.export({ type: "spki", format: "pem" }),
    );
    const users: TokenUser[] = [
      { token: this.adminToken, user: "admin", uid: "admin", groups: ["system:masters"] },
      ...(this.options.extraUsers ?? []),
    ];
    const csv = users
      .map((u) => [u.token, u.user, u.uid, quoteCsv(u.groups.join(","))].join(","))
      .join("\n");
    await writeFile(path.join(this.dir, "tokens.csv"), `${csv}\n`, { mode: 0o600 });
  }

  private async startProcess(): Promise<void> {
    const from = Date.now();
    this.server = await startServer({
      name: "kube-apiserver",
      command: this.options.binary,
      args: [
        "--advertise-address=127.0.0.1",
        "--bind-address=127.0.0.1",
        `--secure-port=${this.port}`,
        `--cert-dir=${path.join(this.dir, "certs")}`,
        `--etcd-servers=${this.options.etcdUrl}`,
        "--service-cluster-ip-range=10.0.0.0/24",
        "--allow-privileged=true",
        "--disable-admission-plugins=ServiceAccount",
        "--authorization-mode=RBAC",
        `--token-auth-file=${path.join(this.dir, "tokens.csv")}`,
        `--service-account-issuer=${this.url}/`,
        `--service-account-key-file=${path.join(this.dir, "sa.pub")}`,
        `--service-account-signing-key-file=${path.join(this.dir, "sa.key")}`,
        "--enable-priority-and-fairness=false",
        "--v=1",
      ],
      logDir: this.options.workDir,
    });
    await waitUntil(this.server, () => this.isReady(), 90_000);
    this.startingPeriods.push({ from, to: Date.now() });
  }

  /** The serving certificate chain the API server generated for itself. */
  async caCertificate(): Promise<string> {
    return readFile(path.join(this.dir, "certs", "apiserver.crt"), "utf8");
  }

  private async isReady(): Promise<boolean> {
    const ca = await this.caCertificate().catch(() => undefined);
    if (ca === undefined) return false;
    return new Promise((resolve) => {
      const req = request(
        `${this.url}/readyz`,
        { ca, headers: { authorization: `Bearer ${this.adminToken}` }, timeout: 2000 },
        (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        },
      );
      req.on("error", () => {
        resolve(false);
      });
      req.end();
    });
  }

  /**
   * A raw JSON request, as the admin unless `options.token` says otherwise. client-node's typed
   * clients re-serialize known kinds through their models, which drops keys they spell
   * differently (`default`, `x-kubernetes-validations` in CRD schemas); this sends documents
   * exactly as written. `options.contentType` selects, for example, server-side apply
   * (`application/apply-patch+yaml`, of which JSON is a subset) for a PATCH.
   */
  async request(
    method: string,
    path: string,
    body?: unknown,
    options: { contentType?: string; token?: string } = {},
  ): Promise<{ status: number; body: unknown }> {
    const ca = await this.caCertificate();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.url}${path}`,
        {
          method,
          ca,
          headers: {
            authorization: `Bearer ${options.token ?? this.adminToken}`,
            accept: "application/json",
            ...(payload ? { "content-type": options.contentType ?? "application/json" } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            resolve({ status: res.statusCode ?? 0, body: parseBody(text) });
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** A kubeconfig (YAML) for a token identity; the admin by default. */
  async kubeconfigYaml(token: string = this.adminToken, user = "admin"): Promise<string> {
    const ca = Buffer.from(await this.caCertificate()).toString("base64");
    return stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "test", cluster: { server: this.url, "certificate-authority-data": ca } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: "test", context: { cluster: "test", user } }],
      "current-context": "test",
    });
  }

  async writeKubeconfig(file: string, token?: string, user?: string): Promise<string> {
    await writeFile(file, await this.kubeconfigYaml(token, user), { mode: 0o600 });
    return file;
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }

  /** Starts the API server again on the same port, certificates and etcd. */
  async restart(): Promise<void> {
    await this.stop();
    await this.startProcess();
  }
}
