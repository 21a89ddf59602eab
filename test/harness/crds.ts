import { readdirSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "./paths.ts";

/** The generated CRD files of the operator. */
export function operatorCrdFiles(): string[] {
  const dir = path.join(repoRoot, "crds");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => path.join(dir, f));
}
