import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import path from "node:path";
import {
  ApiextensionsV1Api,
  KubeConfig,
  type V1CustomResourceDefinition,
} from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import {
  CONTROLLER_SERVICE_ACCOUNT,
  PORTAL_SERVICE_ACCOUNT,
  serviceAccountGroups,
} from "./chart.ts";
import { startEtcd, type Etcd } from "./etcd.ts";
import { KubeApiServer, type TokenUser } from "./kube-apiserver.ts";
import { MotoServer } from "./moto.ts";
import { cacheDir } from "./paths.ts";
import { setTimeout as sleep } from "node:timers/promises";

export interface HarnessBinaries {
  kubeApiServer: string;
  etcd: string;
  motoServer: string;
}

export interface TestEnvironmentOptions {
  binaries: HarnessBinaries;
  /** Start moto too (IAM + STS for several accounts). */
  moto?: boolean;
  /** How moto is started (see MotoServer.start). */
  motoOptions?: Parameters<typeof MotoServer.start>[2];
  /** CRD YAML files to install and wait for. */
  crdFiles?: string[];
  /** Token identities besides the admin and the chart's ServiceAccounts (always present). */
  extraUsers?: TokenUser[];
}

/** A static-token stand-in for the ServiceAccount token a pod of the chart would mount. */
function serviceAccountTokenUser(user: string): TokenUser {
  return {
    token: randomBytes(24).toString("hex"),
    user,
    uid: user,
    groups: serviceAccountGroups(user),
  };
}

/**
 * One test file's private control plane (etcd + kube-apiserver) and, on request, its own moto.
 * Everything listens on free loopback ports, so test files run in parallel without sharing
 * state; logs and data live in a temporary folder that is removed on success.
 */
interface EnvironmentParts {
  workDir: string;
  etcd: Etcd;
  apiServer: KubeApiServer;
  kubeconfigPath: string;
  moto: MotoServer | undefined;
  users: TokenUser[];
}

export class TestEnvironment {
  readonly workDir: string;
  readonly etcd: Etcd;
  readonly apiServer: KubeApiServer;
  readonly kubeconfigPath: string;
  private readonly motoServer: MotoServer | undefined;
  private readonly users: TokenUser[];

  private constructor(parts: EnvironmentParts) {
    this.workDir = parts.workDir;
    this.etcd = parts.etcd;
    this.apiServer = parts.apiServer;
    this.kubeconfigPath = parts.kubeconfigPath;
    this.motoServer = parts.moto;
    this.users = parts.users;
  }

  static async start(options: TestEnvironmentOptions): Promise<TestEnvironment> {
    const { binaries } = options;
    const runs = path.join(cacheDir(), "runs");
    await mkdir(runs, { recursive: true });
    const workDir = await mkdtemp(path.join(runs, `env-${process.pid}-`));
    const started = await Promise.allSettled([
      startEtcd(binaries.etcd, workDir),
      options.moto
        ? MotoServer.start(binaries.motoServer, workDir, options.motoOptions)
        : undefined,
    ]);
    const [etcd, moto] = started.map((r) => (r.status === "fulfilled" ? r.value : undefined)) as [
      Etcd | undefined,
      MotoServer | undefined,
    ];
    const failure = started.find((r) => r.status === "rejected");
    let apiServer: KubeApiServer | undefined;
    const users = [
      serviceAccountTokenUser(CONTROLLER_SERVICE_ACCOUNT),
      serviceAccountTokenUser(PORTAL_SERVICE_ACCOUNT),
      ...(options.extraUsers ?? []),
    ];
    try {
      if (failure || !etcd) throw failure?.reason ?? new Error("etcd did not start");
      apiServer = await KubeApiServer.start({
        binary: binaries.kubeApiServer,
        etcdUrl: etcd.url,
        workDir,
        extraUsers: users,
      });
      const kubeconfigPath = await apiServer.writeKubeconfig(path.join(workDir, "kubeconfig"));
      const env = new TestEnvironment({ workDir, etcd, apiServer, kubeconfigPath, moto, users });
      if (options.crdFiles) await env.installCrds(options.crdFiles);
      return env;
    } catch (err) {
      // Stop whatever did start; the work folder keeps the logs for the failure.
      await Promise.allSettled([apiServer?.stop(), moto?.stop(), etcd?.stop()]);
      throw err;
    }
  }

  get moto(): MotoServer {
    if (!this.motoServer) throw new Error("this environment was started without moto");
    return this.motoServer;
  }

  /** A client configuration for the admin identity. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  /**
   * A kubeconfig file authenticated as one of the environment's token identities, for example
   * the chart's controller ServiceAccount (CONTROLLER_SERVICE_ACCOUNT in chart.ts).
   */
  async kubeconfigFor(user: string): Promise<string> {
    const identity = this.users.find((u) => u.user === user);
    if (!identity) {
      throw new Error(
        `no token identity ${user}; pass it in TestEnvironment.start({ extraUsers })`,
      );
    }
    const file = path.join(this.workDir, `kubeconfig-${user.replaceAll(":", "_")}`);
    return this.apiServer.writeKubeconfig(file, identity.token, user);
  }

  /** The token of one of the environment's identities, for raw requests as that identity. */
  tokenOf(user: string): string {
    const identity = this.users.find((u) => u.user === user);
    if (!identity) throw new Error(`no token identity ${user}`);
    return identity.token;
  }

  /** Creates the CRDs in the given YAML files and waits until the API server serves them. */
  async installCrds(files: string[]): Promise<V1CustomResourceDefinition[]> {
    const api = this.kubeConfig().makeApiClient(ApiextensionsV1Api);
    const crds: V1CustomResourceDefinition[] = [];
    for (const file of files) {
      for (const doc of parseAllDocuments(await readFile(file, "utf8"))) {
        const body = doc.toJS() as V1CustomResourceDefinition | null;
        if (body?.kind === "CustomResourceDefinition") crds.push(body);
      }
    }
    // Sent raw: client-node would drop `default` and `x-kubernetes-validations` (see request()).
    await Promise.all(
      crds.map(async (body) => {
        const res = await this.apiServer.request(
          "POST",
          "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
          body,
        );
        if (res.status !== 201) {
          throw new Error(`creating CRD ${body.metadata?.name ?? ""}: ${JSON.stringify(res.body)}`);
        }
      }),
    );
    return Promise.all(crds.map((crd) => this.waitForEstablished(api, crd.metadata?.name ?? "")));
  }

  private async waitForEstablished(
    api: ApiextensionsV1Api,
    name: string,
  ): Promise<V1CustomResourceDefinition> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const crd = await api.readCustomResourceDefinition({ name });
      const established = crd.status?.conditions?.find((c) => c.type === "Established");
      if (established?.status === "True") return crd;
      await sleep(100);
    }
    throw new Error(`CRD ${name} was not established within 30 s`);
  }

  async stop(options: { keepWorkDir?: boolean } = {}): Promise<void> {
    await Promise.allSettled([this.apiServer.stop(), this.motoServer?.stop()]);
    await this.etcd.stop();
    // IDC_KEEP_TEST_DIRS=1 keeps logs and data for a look after the run.
    if (!options.keepWorkDir && !process.env.IDC_KEEP_TEST_DIRS) {
      await rm(this.workDir, { recursive: true, force: true });
    }
  }
}
