import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { toolchainDir } from "../../scripts/toolchain/paths.ts";
import { repoRoot } from "./paths.ts";

const run = promisify(execFile);
let python: Promise<string> | undefined;

/** A Python with scim2-tester from PyPI (a venv in the cache that install-scim2-tester.sh makes). */
export function scim2TesterPython(): Promise<string> {
  python ??= (async () => {
    if (process.env.IDC_SCIM2_TESTER_PYTHON) return process.env.IDC_SCIM2_TESTER_PYTHON;
    const { stdout } = await run(path.join(toolchainDir, "install-scim2-tester.sh"), [], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const line = stdout.split("\n").find((l) => l.startsWith("python="));
    if (!line) throw new Error(`install-scim2-tester.sh did not report a python:\n${stdout}`);
    return line.slice("python=".length);
  })();
  return python;
}

export interface Scim2Check {
  title: string;
  status: string;
  reason: string | null;
  resourceType: string | null;
  tags: string[];
}

/** Runs every check scim2-tester makes against a SCIM base URL, with a bearer token. */
export async function runScim2Tester(baseUrl: string, token: string): Promise<Scim2Check[]> {
  const { stdout } = await run(
    await scim2TesterPython(),
    [path.join(repoRoot, "test/integration/portal/scim2_tester_run.py"), baseUrl],
    { env: { ...process.env, SCIM_TOKEN: token }, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
  );
  return JSON.parse(stdout) as Scim2Check[];
}
