// `npm run image:tree -- [OUT_DIR] [--no-cache]`: builds, without Docker, the file tree that the
// Dockerfile's final stage would contain, then runs `idc` from it as the image's ENTRYPOINT would.
//
// It follows the Dockerfile rather than a second list of files. Each stage gets a folder that
// stands for its "/"; COPY copies (honouring .dockerignore) and RUN runs through `sh -c` in the
// stage's WORKDIR. The base image (node:24-...) is stood in for by the Node running this script,
// first on PATH, and by an empty /usr/local/bin. An absolute path written as a plain word in a
// RUN command (`chmod 0755 /app/dist/cli.js`) is mapped into the stage folder; a symlink made at
// such a path is made relative, so the tree resolves the same way wherever it lies. Anything it
// does not know (other instructions, flags, variables, globs) stops it with the line number.
//
// Like Docker's layer cache, RUN results of the builder stages are kept in the cache folder
// (test/harness/paths.ts), keyed by the instructions so far and the content of what they copied;
// the final stage always runs.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  symlink,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { cacheDir, repoRoot } from "./toolchain/paths.ts";
import { isAlive } from "./toolchain/process.ts";

// ---------------------------------------------------------------------------------------------
// Parsing

type InstructionBody =
  | { kind: "WORKDIR"; path: string }
  | { kind: "COPY"; from: string | undefined; sources: string[]; dest: string }
  | { kind: "RUN"; command: string }
  | { kind: "ENV"; vars: [string, string][] }
  | { kind: "USER"; user: string }
  | { kind: "ENTRYPOINT" | "CMD"; argv: string[] };

export type Instruction = InstructionBody & { line: number; text: string };

export interface Stage {
  index: number;
  /** The `AS` name, or the index as Docker names unnamed stages. */
  name: string;
  image: string;
  instructions: Instruction[];
}

const KNOWN = ["FROM", "WORKDIR", "COPY", "RUN", "ENV", "USER", "ENTRYPOINT", "CMD"];

/** Splits like a shell: whitespace separates words, quotes and backslashes group them. */
function splitWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (quote) {
      if (c === quote) quote = "";
      else word = (word ?? "") + (c === "\\" && quote === '"' ? text.charAt(++i) : c);
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= "";
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? "") + (c === "\\" ? text.charAt(++i) : c);
    }
  }
  if (quote) throw new Error(`unclosed ${quote} in: ${text}`);
  if (word !== undefined) words.push(word);
  return words;
}

function parseExecForm(keyword: string, args: string): string[] {
  let argv: unknown;
  try {
    argv = JSON.parse(args);
  } catch {
    argv = undefined;
  }
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === "string")) {
    throw new Error(`${keyword} must use the exec form ["command", "arg", ...]`);
  }
  return argv;
}

function parseCopy(args: string): InstructionBody {
  if (args.startsWith("[")) throw new Error('the JSON form COPY ["src", "dest"] is not supported');
  const words = splitWords(args);
  const flags = words.filter((w) => w.startsWith("--"));
  const paths = words.filter((w) => !w.startsWith("--"));
  const unknown = flags.filter((f) => !f.startsWith("--from="));
  if (unknown.length > 0) throw new Error(`COPY flag ${unknown.join(" ")} is not supported`);
  if (paths.some((p) => /[*?[]/.test(p))) throw new Error("wildcards in COPY are not supported");
  const dest = paths.pop();
  if (dest === undefined || paths.length === 0) throw new Error("COPY needs a source and a dest");
  return { kind: "COPY", from: flags[0]?.slice("--from=".length), sources: paths, dest };
}

function parseEnv(args: string): [string, string][] {
  return splitWords(args).map((word) => {
    const i = word.indexOf("=");
    if (i < 1)
      throw new Error(`ENV expects NAME=value (the legacy form is unsupported): "${word}"`);
    if (word.slice(0, i) === "PATH") throw new Error("ENV PATH is not supported (PATH is mapped)");
    return [word.slice(0, i), word.slice(i + 1)];
  });
}

function parseBody(keyword: string, args: string): InstructionBody {
  if (keyword !== "RUN" && args.includes("$")) {
    throw new Error(`variable substitution in ${keyword} is not supported`);
  }
  switch (keyword) {
    case "WORKDIR":
      return { kind: "WORKDIR", path: splitWords(args).join(" ") };
    case "COPY":
      return parseCopy(args);
    case "RUN":
      if (args.startsWith("[") || args.startsWith("--")) {
        throw new Error("only the shell form RUN <command>, without flags, is supported");
      }
      return { kind: "RUN", command: args };
    case "ENV":
      return { kind: "ENV", vars: parseEnv(args) };
    case "USER":
      return { kind: "USER", user: args.trim() };
    case "ENTRYPOINT":
    case "CMD":
      return { kind: keyword, argv: parseExecForm(keyword, args) };
    default:
      throw new Error(`${keyword} is not supported (this interpreter knows ${KNOWN.join(", ")})`);
  }
}

/** Logical lines: comments dropped, `\` continuations joined; each with its first line number. */
function logicalLines(text: string): { line: number; text: string }[] {
  const result: { line: number; text: string }[] = [];
  let current: { line: number; text: string } | undefined;
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line.startsWith("#") || (line === "" && !current)) continue;
    const continued = line.endsWith("\\");
    const part = continued ? line.slice(0, -1).trim() : line;
    current = current
      ? { line: current.line, text: `${current.text} ${part}`.trim() }
      : { line: i + 1, text: part };
    if (!continued) {
      result.push(current);
      current = undefined;
    }
  }
  if (current) result.push(current);
  return result;
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const { line, text: instruction } of logicalLines(text)) {
    const [keyword = "", args = ""] = /^(\S+)\s*(.*)$/.exec(instruction)?.slice(1) ?? [];
    const upper = keyword.toUpperCase();
    try {
      if (upper === "FROM") {
        const m = /^([^\s-][^\s]*)(?:\s+AS\s+(\S+))?$/i.exec(args);
        if (!m?.[1]) throw new Error("expected FROM <image> [AS <name>], without flags");
        const index = stages.length;
        stages.push({
          index,
          name: m[2] ?? `stage-${String(index)}`,
          image: m[1],
          instructions: [],
        });
        continue;
      }
      const stage = stages.at(-1);
      if (!stage) throw new Error(`${upper} before the first FROM`);
      stage.instructions.push({ ...parseBody(upper, args), line, text: instruction });
    } catch (err) {
      throw new Error(`Dockerfile:${line}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (stages.length === 0) throw new Error("Dockerfile: no FROM");
  return stages;
}

// ---------------------------------------------------------------------------------------------
// The stand-in for the base image, paths and processes

/** The node image's PATH. The tree has only what the Dockerfile added, so this Node goes first. */
const IMAGE_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
/** What the Dockerfile relies on in the base image beyond Node: where node keeps its commands. */
const BASE_IMAGE_FOLDERS = ["/usr/local/bin"];
/** Kept from this machine for RUN: network settings, and HOME for npm's cache and config. */
const HOST_ENV_FOR_RUN = [
  "HOME",
  "TMPDIR",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "NODE_EXTRA_CA_CERTS",
];
/** Bump when the interpreter's meaning changes, so older cached layers are not reused. */
const LAYER_FORMAT = "image-tree 1";

function checkBaseImage(image: string): void {
  const major = /^node:(\d+)(?:[-.]|$)/.exec(image)?.[1];
  const running = process.versions.node.split(".")[0];
  if (major === undefined) {
    throw new Error(`FROM ${image}: only node:<major>... images can be stood in for`);
  }
  if (major !== running) {
    throw new Error(
      `FROM ${image} needs Node ${major} to stand in for the image's Node, but this is ` +
        `${process.version} (${process.execPath}): run through npm scripts or node_modules/.bin/node`,
    );
  }
}

/** Host path of an absolute path inside a stage. */
const hostPath = (root: string, imagePath: string): string => path.join(root, imagePath);

/** PATH for RUN and for the entry point: this Node, the image's PATH inside the tree, then this
 * machine's PATH (for sh, npm, ln) without node_modules/.bin folders that `npm run` adds. */
function searchPath(root: string): string {
  const host = (process.env.PATH ?? "")
    .split(path.delimiter)
    .filter((dir) => dir !== "" && !dir.split(path.sep).includes("node_modules"));
  return [
    path.dirname(process.execPath),
    ...IMAGE_PATH.map((dir) => hostPath(root, dir)),
    ...host,
  ].join(path.delimiter);
}

export interface CommandRun {
  argv: string[];
  code: number | null;
  output: string;
}

interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

function runCommand(argv: string[], options: RunOptions): Promise<CommandRun> {
  const [command = "", ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeoutMs,
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.once("error", reject);
    child.once("close", (code) => {
      resolve({ argv, code, output });
    });
  });
}

const exists = (p: string): Promise<boolean> =>
  lstat(p).then(
    () => true,
    () => false,
  );

/** Node looks for packages in every node_modules above a module: none may be above the tree. */
async function assertNoPackagesAbove(dir: string): Promise<void> {
  for (let parent = path.dirname(dir); ; parent = path.dirname(parent)) {
    if (await exists(path.join(parent, "node_modules"))) {
      throw new Error(
        `${dir} lies below ${parent}, which has node_modules: Node would load packages from ` +
          `there that the image does not have. Use a folder outside any Node project ` +
          `(the stages go to TMPDIR).`,
      );
    }
    if (parent === path.dirname(parent)) return;
  }
}

// ---------------------------------------------------------------------------------------------
// The layer cache

const COPY_TREE = { recursive: true, verbatimSymlinks: true, force: true } as const;

/** A stage folder after a RUN, under the key of every instruction up to it. */
class LayerCache {
  private readonly used = new Set<string>();
  private readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  /** A layer of this build counts as used, so pruning keeps it. */
  async has(key: string): Promise<boolean> {
    const found = await exists(path.join(this.dir, key));
    if (found) this.used.add(key);
    return found;
  }

  path(key: string | undefined): string | undefined {
    return key === undefined ? undefined : path.join(this.dir, key);
  }

  async store(key: string, root: string): Promise<void> {
    this.used.add(key);
    await mkdir(this.dir, { recursive: true });
    const partial = path.join(this.dir, `${key}.tmp-${String(process.pid)}-${String(Date.now())}`);
    await cp(root, partial, COPY_TREE);
    // A concurrent run may have stored the same layer first; either copy is as good.
    await rename(partial, path.join(this.dir, key)).catch(() =>
      rm(partial, { recursive: true, force: true }),
    );
  }

  /** Keeps only the layers of this build (a layer is a whole stage folder: hundreds of MB). */
  async prune(): Promise<void> {
    for (const name of await readdir(this.dir).catch(() => [])) {
      const pid = Number(/\.tmp-(\d+)-/.exec(name)?.[1]);
      if (this.used.has(name) || (pid && isAlive(pid))) continue;
      // Renamed first, so a concurrent reader fails loudly instead of copying half a layer.
      const doomed = path.join(this.dir, `${name}.tmp-${String(process.pid)}-removing`);
      await rename(path.join(this.dir, name), doomed).then(
        () => rm(doomed, { recursive: true, force: true }),
        () => undefined,
      );
    }
  }
}

const chain = (...parts: string[]): string =>
  createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 32);

// ---------------------------------------------------------------------------------------------
// Building

/** A stage's folder and the configuration its instructions left. */
export interface BuiltStage {
  name: string;
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  entrypoint: string[];
  cmd: string[];
  /** Layer-cache key of the stage's last instruction. */
  key: string;
}

export interface ImageTree extends BuiltStage {
  contextDir: string;
  steps: number;
  cachedSteps: number;
}

export interface BuildOptions {
  /** Becomes the final stage's "/": must be new or empty. */
  outDir: string;
  /** Build context with the Dockerfile and .dockerignore (default: the repository). */
  contextDir?: string;
  /** Reuse and keep RUN results of builder stages (default true). */
  cache?: boolean;
  log?: (line: string) => void;
}

interface Build {
  context: string;
  ignore: string[];
  layers: LayerCache | undefined;
  stages: Map<string, BuiltStage>;
  log: (line: string) => void;
  cachedSteps: number;
}

async function readDockerignore(context: string): Promise<string[]> {
  const text = await readFile(path.join(context, ".dockerignore"), "utf8").catch(() => "");
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((pattern) => {
      if (pattern.startsWith("!")) throw new Error(`.dockerignore: ${pattern}: "!" is unsupported`);
      return path.posix.normalize(pattern).replace(/^\/+|\/+$/g, "");
    });
}

/** Docker excludes a path when it or any folder above it matches a pattern. */
function isIgnored(build: Build, contextPath: string): boolean {
  const rel = path.relative(build.context, contextPath).split(path.sep).join("/");
  const parts = rel.split("/");
  return parts.some((_, i) => {
    const prefix = parts.slice(0, i + 1).join("/");
    return build.ignore.some((pattern) => path.posix.matchesGlob(prefix, pattern));
  });
}

function contextSource(build: Build, src: string): string {
  const full = path.resolve(build.context, src.replace(/^\/+/, ""));
  if (path.relative(build.context, full).startsWith("..")) {
    throw new Error(`COPY ${src}: outside the build context`);
  }
  if (full !== build.context && isIgnored(build, full)) {
    throw new Error(`COPY ${src}: excluded by .dockerignore`);
  }
  return full;
}

function stageSource(build: Build, from: string, src: string): string {
  const stage = build.stages.get(from);
  if (!stage) throw new Error(`COPY --from=${from}: no earlier stage of that name`);
  return hostPath(stage.root, path.posix.resolve("/", src));
}

/** The files a COPY from the context takes, with their modes and contents. */
async function digestContextSources(build: Build, sources: string[]): Promise<string> {
  const hash = createHash("sha256");
  for (const src of sources) {
    const base = contextSource(build, src);
    const info = await stat(base).catch(() => {
      throw new Error(`COPY ${src}: not found in the build context`);
    });
    const files = info.isDirectory()
      ? (await readdir(base, { recursive: true, withFileTypes: true }))
          .filter((entry) => !entry.isDirectory())
          .map((entry) => path.join(entry.parentPath, entry.name))
          .filter((file) => !isIgnored(build, file))
          .sort()
      : [base];
    for (const file of files) {
      const fileInfo = await lstat(file);
      hash.update(`${path.relative(build.context, file)}\0${fileInfo.mode.toString(8)}\0`);
      hash.update(fileInfo.isSymbolicLink() ? await readlink(file) : await readFile(file));
    }
  }
  return hash.digest("hex");
}

/** What an instruction reads besides its own text, for the layer-cache key. */
function instructionInput(build: Build, step: Instruction): Promise<string> | string {
  if (step.kind !== "COPY") return "";
  if (step.from === undefined) return digestContextSources(build, step.sources);
  const from = build.stages.get(step.from);
  if (!from) throw new Error(`COPY --from=${step.from}: no earlier stage of that name`);
  return from.key;
}

async function copyStep(build: Build, state: BuiltStage, step: Instruction & { kind: "COPY" }) {
  const dest = path.posix.resolve(state.workdir, step.dest);
  const intoFolder = step.dest.endsWith("/") || step.sources.length > 1;
  for (const src of step.sources) {
    const source =
      step.from === undefined ? contextSource(build, src) : stageSource(build, step.from, src);
    const info = await stat(source).catch(() => {
      throw new Error(`COPY ${step.from ? `--from=${step.from} ` : ""}${src}: not found`);
    });
    // Docker copies a folder's contents into dest, and a file to dest or into dest/.
    const isFolder = info.isDirectory();
    const target = hostPath(
      state.root,
      isFolder || !intoFolder ? dest : path.posix.join(dest, path.posix.basename(src)),
    );
    await mkdir(path.dirname(target), { recursive: true });
    await cp(source, target, {
      ...COPY_TREE,
      filter: step.from === undefined ? (file) => !isIgnored(build, file) : undefined,
    });
  }
}

/** A symlink made by `ln -s /app/x /usr/local/bin/x` points at the host path: make it relative. */
async function relativizeSymlink(file: string, root: string): Promise<void> {
  const info = await lstat(file).catch(() => undefined);
  if (!info?.isSymbolicLink()) return;
  const target = await readlink(file);
  if (!target.startsWith(root + path.sep)) return;
  await rm(file);
  await symlink(path.relative(path.dirname(file), target), file);
}

async function runStep(state: BuiltStage, step: Instruction & { kind: "RUN" }): Promise<void> {
  const mapped: string[] = [];
  const command = step.command.replace(
    /(^|\s)(\/[^\s;&|<>()'"`$\\]*)/g,
    (_whole, lead: string, imagePath: string) => {
      const first = imagePath.split("/")[1] ?? "";
      if (first === "dev") return `${lead}${imagePath}`;
      if (first === "" || !existsSync(hostPath(state.root, `/${first}`))) {
        throw new Error(`RUN: ${imagePath} is not in the stage, so it cannot be mapped`);
      }
      mapped.push(hostPath(state.root, imagePath));
      return `${lead}"$STAGE_ROOT"${imagePath}`;
    },
  );
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(HOST_ENV_FOR_RUN.map((name) => [name, process.env[name]])),
    // npm reads its cache before the registry and skips the update check; results are the same.
    npm_config_prefer_offline: "true",
    npm_config_update_notifier: "false",
    ...state.env,
    PATH: searchPath(state.root),
    STAGE_ROOT: state.root,
  };
  const result = await runCommand(["sh", "-c", command], {
    cwd: hostPath(state.root, state.workdir),
    env,
  });
  if (result.code !== 0) {
    throw new Error(`RUN exited with ${String(result.code)}:\n${result.output.trimEnd()}`);
  }
  for (const file of mapped) await relativizeSymlink(file, state.root);
}

/** What an instruction changes in the stage's configuration (also for cached steps). */
function configure(state: BuiltStage, step: Instruction): void {
  if (step.kind === "WORKDIR") state.workdir = path.posix.resolve(state.workdir, step.path);
  if (step.kind === "ENV") for (const [name, value] of step.vars) state.env[name] = value;
  if (step.kind === "USER") state.user = step.user;
  if (step.kind === "ENTRYPOINT") state.entrypoint = step.argv;
  if (step.kind === "CMD") state.cmd = step.argv;
}

async function execute(build: Build, state: BuiltStage, step: Instruction): Promise<void> {
  configure(state, step);
  switch (step.kind) {
    case "WORKDIR":
      await mkdir(hostPath(state.root, state.workdir), { recursive: true });
      return;
    case "COPY":
      return copyStep(build, state, step);
    case "RUN":
      return runStep(state, step);
    default:
      return;
  }
}

const seconds = (since: number): string => `${((performance.now() - since) / 1000).toFixed(1)} s`;

/** Each instruction with its layer-cache key: the stage so far and what the instruction reads. */
async function layerKeys(
  build: Build,
  stage: Stage,
): Promise<{ step: Instruction; key: string }[]> {
  const keyed: { step: Instruction; key: string }[] = [];
  let key = chain(LAYER_FORMAT, stage.image, process.version, process.arch);
  for (const step of stage.instructions) {
    try {
      key = chain(key, step.text, await instructionInput(build, step));
    } catch (err) {
      throw new Error(`Dockerfile:${String(step.line)}: ${(err as Error).message}`, { cause: err });
    }
    keyed.push({ step, key });
  }
  return keyed;
}

const changesFiles = (step: Instruction): boolean =>
  step.kind === "COPY" || step.kind === "RUN" || step.kind === "WORKDIR";

async function buildStage(build: Build, stage: Stage, target: string): Promise<BuiltStage> {
  checkBaseImage(stage.image);
  const keyed = await layerKeys(build, stage);
  // Resume after the last RUN whose result is cached, as Docker would.
  let resumeAfter = -1;
  for (const [i, { step, key }] of keyed.entries()) {
    if (step.kind === "RUN" && (await build.layers?.has(key))) resumeAfter = i;
  }
  const resumeLayer = build.layers?.path(keyed[resumeAfter]?.key);
  let root = target;
  if (resumeLayer && !keyed.slice(resumeAfter + 1).some(({ step }) => changesFiles(step))) {
    root = resumeLayer; // nothing left to change: later stages read the layer in place
  } else if (resumeLayer) {
    await cp(resumeLayer, root, COPY_TREE);
  } else {
    for (const folder of BASE_IMAGE_FOLDERS) {
      await mkdir(hostPath(root, folder), { recursive: true });
    }
  }

  const state: BuiltStage = {
    name: stage.name,
    root,
    workdir: "/",
    env: {},
    user: undefined,
    entrypoint: [],
    cmd: [],
    key: keyed.at(-1)?.key ?? "",
  };
  for (const [i, { step, key }] of keyed.entries()) {
    const label = `[${stage.name} ${String(i + 1)}/${String(keyed.length)}] ${step.text.slice(0, 90)}`;
    if (i <= resumeAfter) {
      configure(state, step);
      build.cachedSteps++;
      build.log(`${label}  (cached)`);
      continue;
    }
    const started = performance.now();
    try {
      await execute(build, state, step);
    } catch (err) {
      throw new Error(`Dockerfile:${String(step.line)}: ${(err as Error).message}`, { cause: err });
    }
    if (step.kind === "RUN") await build.layers?.store(key, root);
    build.log(`${label}  ${seconds(started)}`);
  }
  return state;
}

async function prepareOutDir(outDir: string): Promise<void> {
  await assertNoPackagesAbove(outDir);
  await mkdir(outDir, { recursive: true });
  if ((await readdir(outDir)).length > 0) {
    throw new Error(`${outDir} is not empty: give a new or empty folder for the image tree`);
  }
  await chmod(outDir, 0o755); // as an image's "/"
}

/** Builds every stage of the Dockerfile in order; the final stage's "/" is `outDir`. */
export async function buildImageTree(options: BuildOptions): Promise<ImageTree> {
  const context = path.resolve(options.contextDir ?? repoRoot);
  const stages = parseDockerfile(await readFile(path.join(context, "Dockerfile"), "utf8"));
  const outDir = path.resolve(options.outDir);
  await prepareOutDir(outDir);
  const build: Build = {
    context,
    ignore: await readDockerignore(context),
    layers: undefined,
    stages: new Map(),
    log: options.log ?? (() => undefined),
    cachedSteps: 0,
  };
  const layers = options.cache === false ? undefined : new LayerCache(layerDir());
  const work = await mkdtemp(path.join(tmpdir(), "idc-image-stages-"));
  // The build container's umask, so modes in the tree are the image's.
  const umask = process.umask(0o022);
  try {
    await assertNoPackagesAbove(work);
    let final: BuiltStage | undefined;
    for (const stage of stages) {
      const isFinal = stage === stages.at(-1);
      // The final stage always runs: the tree is made by its own instructions every time.
      build.layers = isFinal ? undefined : layers;
      const root = isFinal ? outDir : path.join(work, `stage-${String(stage.index)}`);
      final = await buildStage(build, stage, root);
      build.stages.set(stage.name, final).set(String(stage.index), final);
    }
    await layers?.prune();
    if (!final) throw new Error("Dockerfile: no stages");
    const steps = stages.reduce((n, s) => n + s.instructions.length, 0);
    return { ...final, contextDir: context, steps, cachedSteps: build.cachedSteps };
  } finally {
    process.umask(umask);
    await rm(work, { recursive: true, force: true });
  }
}

export const layerDir = (): string => path.join(cacheDir(), "image-tree", "layers");

// ---------------------------------------------------------------------------------------------
// Checking the tree

export interface TreeFacts {
  sizeBytes: number;
  files: number;
  /** Bytes by top-level entry of the WORKDIR, or by folder outside it; largest first. */
  sizeByFolder: [string, number][];
  /** ENTRYPOINT + CMD, `version`, `controller --help`: run from the tree with its ENV. */
  runs: CommandRun[];
  /** package-lock.json's dev-only packages, and those of them found in the tree. */
  devOnlyPackages: number;
  devOnlyPresent: string[];
  /** Image paths of TypeScript files outside node_modules. */
  typeScriptFiles: string[];
  /** Files not readable, or folders not searchable, by users other than the owner. */
  notReadableByAll: string[];
  /** Where ENTRYPOINT's command resolves in the tree (image paths). */
  entrypoint: { path: string; target: string; executableByAll: boolean } | undefined;
}

function folderOf(imagePath: string, workdir: string): string {
  const rel = path.posix.relative(workdir, imagePath);
  if (rel.startsWith("..")) return path.posix.dirname(imagePath);
  return path.posix.join(workdir, rel.split("/")[0] ?? "");
}

async function devOnlyPackages(tree: ImageTree): Promise<{ all: string[]; present: string[] }> {
  const lockFile = await readFile(path.join(tree.contextDir, "package-lock.json"), "utf8");
  const lock = JSON.parse(lockFile) as { packages: Record<string, { dev?: boolean }> };
  const all = Object.entries(lock.packages)
    .filter(([, entry]) => entry.dev === true)
    .map(([location]) => location);
  const workdir = hostPath(tree.root, tree.workdir);
  const present: string[] = [];
  for (const location of all)
    if (await exists(path.join(workdir, location))) present.push(location);
  return { all, present };
}

async function resolveEntrypoint(tree: ImageTree): Promise<TreeFacts["entrypoint"]> {
  const command = tree.entrypoint[0];
  if (command === undefined) return undefined;
  const candidates = command.includes("/")
    ? [path.posix.resolve(tree.workdir, command)]
    : IMAGE_PATH.map((dir) => path.posix.join(dir, command));
  for (const candidate of candidates) {
    const file = hostPath(tree.root, candidate);
    if (!(await exists(file))) continue;
    const real = await realpath(file).catch(() => undefined);
    if (real === undefined) return { path: candidate, target: "(missing)", executableByAll: false };
    const mode = (await stat(real)).mode;
    return {
      path: candidate,
      target: `/${path.relative(tree.root, real).split(path.sep).join("/")}`,
      executableByAll: (mode & 0o005) === 0o005,
    };
  }
  return undefined; // in the base image, not in the tree
}

/** Measures the tree and runs the entry point from it as the image would. */
export async function inspectImageTree(tree: ImageTree): Promise<TreeFacts> {
  const facts: TreeFacts = {
    sizeBytes: 0,
    files: 0,
    sizeByFolder: [],
    runs: [],
    devOnlyPackages: 0,
    devOnlyPresent: [],
    typeScriptFiles: [],
    notReadableByAll: [],
    entrypoint: await resolveEntrypoint(tree),
  };
  const byFolder = new Map<string, number>();
  for (const entry of await readdir(tree.root, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name);
    const imagePath = `/${path.relative(tree.root, full).split(path.sep).join("/")}`;
    const info = await lstat(full);
    if (info.isDirectory()) {
      if ((info.mode & 0o005) !== 0o005) facts.notReadableByAll.push(imagePath);
      continue;
    }
    facts.files++;
    facts.sizeBytes += info.size;
    const folder = folderOf(imagePath, tree.workdir);
    byFolder.set(folder, (byFolder.get(folder) ?? 0) + info.size);
    if (info.isFile() && (info.mode & 0o004) === 0) facts.notReadableByAll.push(imagePath);
    if (/\.[cm]?ts$/.test(imagePath) && !imagePath.split("/").includes("node_modules")) {
      facts.typeScriptFiles.push(imagePath);
    }
  }
  facts.sizeByFolder = [...byFolder].sort((a, b) => b[1] - a[1]);
  const dev = await devOnlyPackages(tree);
  facts.devOnlyPackages = dev.all.length;
  facts.devOnlyPresent = dev.present;

  // As the container would run: in WORKDIR with the image's ENV, HOME at "/", and no other
  // variables of this machine; PATH as for RUN.
  const env = { PATH: searchPath(tree.root), HOME: tree.root, ...tree.env };
  const options = { cwd: hostPath(tree.root, tree.workdir), env, timeoutMs: 30_000 };
  for (const args of [tree.cmd, ["version"], ["controller", "--help"]]) {
    facts.runs.push(await runCommand([...tree.entrypoint, ...args], options));
  }
  return facts;
}

export interface Verdict {
  ok: boolean;
  text: string;
}

/** The checks, as lines to print. */
export function verdicts(tree: ImageTree, facts: TreeFacts, version: string): Verdict[] {
  const [defaultRun, versionRun, helpRun] = facts.runs;
  const shown = (run: CommandRun | undefined) =>
    `${run?.argv.join(" ") ?? "?"} -> exit ${String(run?.code)}: ${run?.output.split("\n")[0] ?? ""}`;
  const found = (items: string[]) =>
    items.length > 0 ? `; found ${items.slice(0, 5).join(" ")}` : "";
  const entrypoint = facts.entrypoint;
  return [
    { ok: defaultRun?.code === 0, text: `ENTRYPOINT + CMD: ${shown(defaultRun)}` },
    {
      ok: versionRun?.code === 0 && versionRun.output.includes(` ${version} `),
      text: `${shown(versionRun)} (package.json: ${version})`,
    },
    {
      ok: helpRun?.code === 0 && helpRun.output.includes("--namespace"),
      text: `${helpRun?.argv.join(" ") ?? "?"} -> exit ${String(helpRun?.code)}, usage with --namespace`,
    },
    {
      ok: facts.devOnlyPresent.length === 0,
      text: `none of package-lock.json's ${String(facts.devOnlyPackages)} dev-only packages in ${tree.workdir}/node_modules${found(facts.devOnlyPresent)}`,
    },
    {
      ok: facts.typeScriptFiles.length === 0,
      text: `no TypeScript outside node_modules${found(facts.typeScriptFiles)}`,
    },
    {
      ok: entrypoint?.executableByAll === true,
      text: `ENTRYPOINT ${tree.entrypoint[0] ?? "(none)"} is ${entrypoint?.path ?? "?"} -> ${entrypoint?.target ?? "?"}, executable by any user`,
    },
    {
      ok: facts.notReadableByAll.length === 0,
      text: `every file readable, every folder searchable by any user (USER ${tree.user ?? "root"})${found(facts.notReadableByAll)}`,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Command line

const USAGE = `Usage: node scripts/image-tree.ts [OUT_DIR] [--no-cache]

Builds the file tree of the Dockerfile's final stage without Docker, into OUT_DIR (new or empty;
default <cache>/image-tree/root, replaced on each run), then runs idc from it as the image would.
`;

const megabytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { "no-cache": { type: "boolean" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
  });
  const say = (text: string) => process.stdout.write(`${text}\n`);
  if (values.help) {
    say(USAGE);
    return 0;
  }
  const defaultOut = path.join(cacheDir(), "image-tree", "root");
  const outDir = path.resolve(positionals[0] ?? defaultOut);
  if (outDir === defaultOut) await rm(defaultOut, { recursive: true, force: true });

  const started = performance.now();
  const tree = await buildImageTree({ outDir, cache: values["no-cache"] !== true, log: say });
  const built = seconds(started);
  const checked = performance.now();
  const facts = await inspectImageTree(tree);
  const pkg = JSON.parse(await readFile(path.join(tree.contextDir, "package.json"), "utf8")) as {
    version: string;
  };
  const results = verdicts(tree, facts, pkg.version);

  say(`\nImage tree of the Dockerfile's final stage: ${tree.root}`);
  say(`  built in ${built} (${String(tree.cachedSteps)} of ${String(tree.steps)} steps cached)`);
  say(`  ${megabytes(facts.sizeBytes)} in ${String(facts.files)} files`);
  for (const [folder, bytes] of facts.sizeByFolder.slice(0, 6)) {
    say(`    ${folder.padEnd(28)} ${megabytes(bytes).padStart(9)}`);
  }
  say(`Checked in ${seconds(checked)}, with ${process.execPath} (${process.version}) as the Node:`);
  for (const { ok, text } of results) say(`  ${ok ? "ok  " : "FAIL"} ${text}`);
  say(
    "Not checked: docker build itself, the base image's own files, the symlinks as absolute " +
      `links, running as USER ${tree.user ?? "root"} (the checks ran as uid ` +
      `${String(process.getuid?.())}).`,
  );
  return results.every((r) => r.ok) ? 0 : 1;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`image-tree: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
