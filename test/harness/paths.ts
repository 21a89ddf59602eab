import path from "node:path";
import { repoRoot } from "../../scripts/toolchain/paths.ts";

export { cacheDir, repoRoot } from "../../scripts/toolchain/paths.ts";

/** The harness's own helpers (guard.sh, moto-server.py). */
export const toolsDir = path.join(repoRoot, "test/harness/tools");
