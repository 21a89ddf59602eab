import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import { resolveBinary } from "./binaries.ts";
import { repoRoot } from "./paths.ts";

const run = promisify(execFile);

/** The Helm chart, installed as release `identity-center-operator` in its own namespace. */
export const CHART_DIR = path.join(repoRoot, "charts/identity-center-operator");
export const RELEASE_NAME = "identity-center-operator";
export const CHART_NAMESPACE = "identity-center-operator";

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

let helmBinary: Promise<string> | undefined;

/** Runs the helm CLI (IDC_HELM or the cached build); never throws for a non-zero exit. */
export async function helm(args: string[]): Promise<HelmResult> {
  helmBinary ??= resolveBinary("helm");
  const binary = await helmBinary;
  // A private HOME-like state, so a user's helm repositories and plugins play no part.
  const state = await mkdtemp(path.join(tmpdir(), "idc-helm-"));
  try {
    const { stdout, stderr } = await run(binary, args, {
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...process.env,
        HELM_CACHE_HOME: path.join(state, "cache"),
        HELM_CONFIG_HOME: path.join(state, "config"),
        HELM_DATA_HOME: path.join(state, "data"),
      },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== "number") throw err;
    return { code: failed.code, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  } finally {
    await rm(state, { recursive: true, force: true });
  }
}

export interface TemplateOptions {
  /** The chart folder; the repository's chart by default. */
  chartDir?: string;
  namespace?: string;
  /** Values, as if from a values file. */
  values?: Record<string, unknown>;
  includeCrds?: boolean;
}

/** Runs `use` with helm's `--values` flag for `values` (none when undefined). */
async function withValues<T>(
  values: Record<string, unknown> | undefined,
  use: (flags: string[]) => Promise<T>,
): Promise<T> {
  if (!values) return use([]);
  const dir = await mkdtemp(path.join(tmpdir(), "idc-values-"));
  try {
    const file = path.join(dir, "values.yaml");
    await writeFile(file, stringify(values));
    return await use([`--values=${file}`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `helm template` of the chart; throws with helm's message when it fails. */
export async function helmTemplate(options: TemplateOptions = {}): Promise<string> {
  const result = await withValues(options.values, (flags) =>
    helm([
      "template",
      RELEASE_NAME,
      options.chartDir ?? CHART_DIR,
      `--namespace=${options.namespace ?? CHART_NAMESPACE}`,
      ...flags,
      ...(options.includeCrds ? ["--include-crds"] : []),
    ]),
  );
  if (result.code !== 0) throw new Error(`helm template failed:\n${result.stderr}`);
  return result.stdout;
}

/** `helm lint --strict` of the chart, with default values or these. */
export async function helmLint(values?: Record<string, unknown>): Promise<HelmResult> {
  return withValues(values, (flags) =>
    helm(["lint", "--strict", CHART_DIR, `--namespace=${CHART_NAMESPACE}`, ...flags]),
  );
}
