import { homedir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, found from this file so tools work from any working directory. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Where this folder's scripts (build-binaries.sh, install-moto.sh) live. */
export const toolchainDir = path.join(repoRoot, "scripts/toolchain");

/** Where built binaries, virtual environments and test run folders live: outside the clone. */
export function cacheDir(): string {
  const explicit = process.env.IDC_CACHE_DIR;
  if (explicit) return explicit;
  const xdg = process.env.XDG_CACHE_HOME ?? path.join(homedir(), ".cache");
  return path.join(xdg, "identity-center-operator");
}
