import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { toolchainDir } from "../../scripts/toolchain/paths.ts";

const run = promisify(execFile);
let python: Promise<string> | undefined;

/**
 * A Python with boto3 and botocore from PyPI, unpatched (IDC_BOTO3_PYTHON, or a virtual
 * environment in the cache that install-boto3.sh makes once per version).
 */
export function boto3Python(): Promise<string> {
  python ??= (async () => {
    if (process.env.IDC_BOTO3_PYTHON) return process.env.IDC_BOTO3_PYTHON;
    const { stdout } = await run(path.join(toolchainDir, "install-boto3.sh"), [], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const line = stdout.split("\n").find((l) => l.startsWith("python="));
    if (!line) throw new Error(`install-boto3.sh did not report a python:\n${stdout}`);
    return line.slice("python=".length);
  })();
  return python;
}
