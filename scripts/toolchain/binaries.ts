import { execFile } from "node:child_process";
import { access, constants } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { toolchainDir } from "./paths.ts";

const run = promisify(execFile);

export type ToolName = "kube-apiserver" | "etcd" | "helm" | "moto_server";

const explicitEnv: Record<ToolName, string> = {
  "kube-apiserver": "IDC_KUBE_APISERVER",
  etcd: "IDC_ETCD",
  helm: "IDC_HELM",
  moto_server: "IDC_MOTO_SERVER",
};

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/**
 * Finds a test binary: an explicit env var (IDC_KUBE_APISERVER, IDC_ETCD, IDC_HELM,
 * IDC_MOTO_SERVER), then KUBEBUILDER_ASSETS (envtest's folder of kube-apiserver and etcd), then
 * the cache, building or installing it there on first use.
 */
export async function resolveBinary(name: ToolName): Promise<string> {
  const explicit = process.env[explicitEnv[name]];
  if (explicit) {
    if (!(await isExecutable(explicit))) {
      throw new Error(`${explicitEnv[name]}=${explicit} is not an executable file`);
    }
    return explicit;
  }
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets && (name === "kube-apiserver" || name === "etcd")) {
    const candidate = path.join(assets, name);
    if (await isExecutable(candidate)) return candidate;
  }
  const script = name === "moto_server" ? "install-moto.sh" : "build-binaries.sh";
  const args = name === "moto_server" ? [] : [name];
  const { stdout } = await run(path.join(toolchainDir, script), args, {
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = stdout
    .trim()
    .split("\n")
    .find((l) => l.startsWith(`${name}=`));
  if (!line) throw new Error(`${script} did not report a path for ${name}:\n${stdout}`);
  return line.slice(name.length + 1);
}
