// `npm run image:check -- [OUT_DIR]`: what the Dockerfile's image needs, checked without Docker.
//
// No image builder runs here: there is no daemon, and no registry to pull the base image
// (node:24-bookworm-slim) from. So this reads the few Dockerfile lines that decide what the
// image holds and how it starts (FROM, WORKDIR, COPY, RUN, ENV, USER, ENTRYPOINT, CMD), makes the
// final stage's WORKDIR from them, and runs `idc` there with the image's ENV, as its USER. The
// production install (`npm ci --omit=dev`) and the build (`tsc`) run for real from the files the
// COPY lines name, so a file the Dockerfile forgets is missing here too. Stood in for: the base
// image by the Node 24 of node_modules (the FROM tags must name the same major), the build
// stage's full `npm ci` by this checkout's node_modules (the same lock file), and the final
// stage's RUN by what it must do for ENTRYPOINT (`ln -s` the command, `chmod` it executable).
import { spawn } from "node:child_process";
import { createHash, type Hash } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  cp,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  symlink,
} from "node:fs/promises";
import path from "node:path";
import { cacheDir, repoRoot } from "./toolchain/paths.ts";

type Step =
  | { kind: "COPY"; line: number; from: string | undefined; sources: string[]; dest: string }
  | { kind: "RUN"; line: number; command: string };

export interface Stage {
  name: string;
  image: string;
  workdir: string;
  steps: Step[];
  env: Record<string, string>;
  user: string | undefined;
  entrypoint: string[];
  cmd: string[];
}

/** The stages of a Dockerfile; an instruction or flag this check does not model stops it. */
export function readDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    let logical = lines[i] ?? "";
    while (logical.endsWith("\\") && i + 1 < lines.length)
      logical = `${logical.slice(0, -1)} ${lines[++i] ?? ""}`;
    logical = logical.trim();
    if (logical === "" || logical.startsWith("#")) continue;
    const [keyword = "", ...words] = logical.split(/\s+/);
    const args = logical.slice(keyword.length).trim();
    const fail = (why: string) => new Error(`Dockerfile:${String(line)}: ${why}`);
    if (keyword === "FROM") {
      stages.push({
        name: words[2] ?? String(stages.length),
        image: words[0] ?? "",
        workdir: "/",
        steps: [],
        env: {},
        user: undefined,
        entrypoint: [],
        cmd: [],
      });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw fail(`${keyword} before FROM`);
    if (/\$/.test(args) && keyword !== "RUN") throw fail("variable substitution is not checked");
    switch (keyword) {
      case "WORKDIR":
        stage.workdir = path.posix.resolve(stage.workdir, args);
        break;
      case "COPY": {
        const flags = words.filter((w) => w.startsWith("--"));
        const rest = words.filter((w) => !w.startsWith("--"));
        const other = flags.find((f) => !f.startsWith("--from="));
        if (other) throw fail(`COPY ${other} is not checked`);
        if (rest.some((w) => /[*?[]/.test(w))) throw fail("COPY wildcards are not checked");
        const dest = rest.pop() ?? "";
        const from = flags[0]?.slice("--from=".length);
        stage.steps.push({ kind: "COPY", line, from, sources: rest, dest });
        break;
      }
      case "RUN":
        stage.steps.push({ kind: "RUN", line, command: args });
        break;
      case "ENV":
        for (const m of args.matchAll(/(\w+)=("([^"]*)"|\S+)/g))
          stage.env[m[1] ?? ""] = m[3] ?? m[2] ?? "";
        break;
      case "USER":
        stage.user = args;
        break;
      case "ENTRYPOINT":
      case "CMD": {
        if (!args.startsWith("[")) throw fail(`${keyword} in shell form is not checked`);
        stage[keyword === "CMD" ? "cmd" : "entrypoint"] = JSON.parse(args) as string[];
        break;
      }
      default:
        throw fail(`${keyword} is not checked by scripts/image-check.ts`);
    }
  }
  return stages;
}

export interface ImageTree {
  /** Stands for the final stage's "/". */
  root: string;
  final: Stage;
  /** ENTRYPOINT's command in the image (`/usr/local/bin/idc`) and the file it runs. */
  command: { path: string; target: string };
  /** Each stage's folder, by what the stage does, for a later assembly to reuse. */
  built: Map<string, string>;
}

const exec = (file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(file, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });

const sh = (command: string, cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  exec("sh", ["-c", command], cwd, env);

/**
 * COPY of a file or a folder, as `cp -a` (symlinks kept as they are, modes kept), into `to`
 * made if needed and merged into if it exists. GNU cp rather than fs.cp, which walks the tree in
 * JavaScript: over the 14,600 files of the production node_modules it took 42 s against cp's 6 s.
 */
async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(path.dirname(to), { recursive: true });
  const run = await exec("cp", ["-a", "-T", from, to], path.dirname(to));
  if (run.code !== 0) throw new Error(`copying ${from} to ${to}: ${run.output}`);
}

/** What a stage's COPY lines read from the build context: each file's path, type, x bit, bytes. */
async function contextDigest(stage: Stage): Promise<string> {
  const hash = createHash("sha256");
  for (const step of stage.steps) {
    if (step.kind !== "COPY" || step.from !== undefined) continue;
    for (const src of step.sources) await digestTree(hash, src);
  }
  return hash.digest("hex");
}

async function digestTree(hash: Hash, rel: string): Promise<void> {
  const file = path.join(repoRoot, rel);
  const info = await lstat(file);
  hash.update(`\0${rel}\0${info.isDirectory() ? "d" : info.isSymbolicLink() ? "l" : "f"}`);
  hash.update(info.mode & 0o111 ? "x" : "-");
  if (info.isDirectory())
    for (const name of (await readdir(file)).sort()) await digestTree(hash, `${rel}/${name}`);
  else hash.update(info.isSymbolicLink() ? await readlink(file) : await readFile(file));
}

const KEPT_STAGES = 6;

/** Keeps a built stage in the cache folder (whole or not at all) for the next run. */
async function keepStage(root: string, kept: string): Promise<void> {
  const work = `${kept}.${String(process.pid)}`;
  await rm(work, { recursive: true, force: true });
  await copyTree(root, work);
  await rename(work, kept).catch(async () => rm(work, { recursive: true, force: true }));
  // Stages of older trees are of no more use: keep the newest few.
  const folder = path.dirname(kept);
  const stages = await Promise.all(
    (await readdir(folder))
      .filter((name) => /^stage-[0-9a-f]{16}$/.test(name))
      .map(async (name) => ({ name, at: (await lstat(path.join(folder, name))).mtimeMs })),
  );
  for (const old of stages.sort((a, b) => b.at - a.at).slice(KEPT_STAGES))
    await rm(path.join(folder, old.name), { recursive: true, force: true });
}

/** PATH for RUN and for `idc`: the Node 24 that stands for the base image's, first. */
const nodePath = () => `${path.dirname(process.execPath)}:/usr/bin:/bin`;

/** The production install of this lock file, made once and kept in the cache folder. */
async function productionInstall(stageDir: string, command: string): Promise<void> {
  const hash = createHash("sha256").update(command);
  for (const f of ["package.json", "package-lock.json"])
    hash.update(await readFile(path.join(stageDir, f)));
  const cached = path.join(cacheDir(), "image-check", `npm-${hash.digest("hex").slice(0, 16)}`);
  if (!existsSync(cached)) {
    const work = `${cached}.${String(process.pid)}`;
    await rm(work, { recursive: true, force: true });
    await mkdir(work, { recursive: true });
    for (const f of ["package.json", "package-lock.json"])
      await cp(path.join(stageDir, f), path.join(work, f));
    const run = await sh(command, work, { ...process.env, PATH: nodePath() });
    if (run.code !== 0) throw new Error(`${command} failed:\n${run.output}`);
    await rename(work, cached).catch(async () => rm(work, { recursive: true, force: true }));
  }
  await copyTree(path.join(cached, "node_modules"), path.join(stageDir, "node_modules"));
}

/**
 * Builds each stage in its own folder under `outDir` and returns the final stage's tree. A
 * builder stage that does what one of `previous` did (same lines, same stages before it) is
 * taken from there instead of built again, and so is one kept in the cache folder by an earlier
 * run that also read the same bytes through its COPY lines (Docker's layer cache, in effect).
 */
export async function assembleImage(
  dockerfile: string,
  outDir: string,
  previous?: ImageTree,
): Promise<ImageTree> {
  const ignored = (await readFile(path.join(repoRoot, ".dockerignore"), "utf8").catch(() => ""))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const stages = readDockerfile(dockerfile);
  const roots = new Map<string, string>();
  const final = stages.at(-1);
  if (!final) throw new Error("the Dockerfile has no FROM");
  const built = new Map<string, string>();
  let key = "";
  for (const stage of stages) {
    key += JSON.stringify({ ...stage, steps: stage.steps.map((s) => ({ ...s, line: 0 })) });
    key += await contextDigest(stage);
    const kept = path.join(
      cacheDir(),
      "image-check",
      `stage-${createHash("sha256").update(key).digest("hex").slice(0, 16)}`,
    );
    const done =
      stage === final
        ? undefined
        : (previous?.built.get(key) ?? (existsSync(kept) ? kept : undefined));
    const root = done ?? path.join(outDir, stage.name);
    roots.set(stage.name, root);
    built.set(key, root);
    if (done) continue;
    const inStage = (p: string) => path.join(root, path.posix.resolve(stage.workdir, p));
    await mkdir(inStage("."), { recursive: true });
    for (const step of stage.steps) {
      if (step.kind === "COPY") {
        for (const src of step.sources) {
          const from = step.from === undefined ? repoRoot : roots.get(step.from);
          if (from === undefined)
            throw new Error(`Dockerfile:${String(step.line)}: no stage ${String(step.from)}`);
          if (step.from === undefined && ignored.includes(src.split("/")[0] ?? ""))
            throw new Error(`Dockerfile:${String(step.line)}: ${src} is in .dockerignore`);
          const into = step.dest.endsWith("/")
            ? path.posix.join(step.dest, path.basename(src))
            : step.dest;
          await copyTree(
            path.join(from, step.from === undefined ? src : path.posix.resolve("/", src)),
            inStage(into),
          );
        }
      } else if (stage === final) {
        continue; // read for ENTRYPOINT below, not run: it writes outside WORKDIR
      } else if (/^npm ci\b/.test(step.command)) {
        if (step.command.includes("--omit=dev"))
          await productionInstall(inStage("."), step.command);
        // The same lock file installed with devDependencies: this checkout's own install.
        else await symlink(path.join(repoRoot, "node_modules"), inStage("node_modules"));
      } else {
        const run = await sh(step.command, inStage("."), {
          ...process.env,
          PATH: `${path.join(repoRoot, "node_modules/.bin")}:${nodePath()}`,
        });
        if (run.code !== 0)
          throw new Error(
            `Dockerfile:${String(step.line)}: ${step.command} failed:\n${run.output}`,
          );
      }
    }
    if (stage !== final) await keepStage(root, kept);
  }
  const root = roots.get(final.name) ?? "";
  // ENTRYPOINT runs a command the final RUN links onto PATH and makes executable.
  const name = final.entrypoint[0] ?? "";
  const runs = final.steps.flatMap((s) => (s.kind === "RUN" ? [s.command] : []));
  const link = runs
    .map((c) => new RegExp(`ln -s (/\\S+) (/usr/local/bin/${name})\\b`).exec(c))
    .find(Boolean);
  if (!link?.[1] || !link[2])
    throw new Error(`no RUN of the final stage links ENTRYPOINT ${name} onto PATH`);
  const target = link[1];
  if (!runs.some((c) => new RegExp(`chmod 0?755 ${target}\\b`).test(c)))
    throw new Error(`no RUN of the final stage makes ${target} executable`);
  await chmod(path.join(root, target), 0o755);
  // Folders made here are the runner's; in the image they are searchable by any user.
  await chmod(outDir, 0o755);
  await chmod(root, 0o755);
  return { root, final, command: { path: link[2], target }, built };
}

export interface Run {
  args: string[];
  code: number | null;
  output: string;
}

/**
 * Runs Node with ARGS in the tree as the container would: in WORKDIR, with only the image's ENV
 * (and PATH to Node), as USER's uid and gid when this process may switch to them (as root).
 */
function runNode(tree: ImageTree, args: string[]): Promise<Run> {
  const [uid = 0, gid = uid] = (tree.final.user ?? "0:0").split(":").map(Number);
  const asUser = process.getuid?.() === 0 ? { uid, gid } : {};
  const env = { PATH: nodePath(), HOME: "/nonexistent", ...tree.final.env };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: path.join(tree.root, tree.final.workdir),
      env,
      ...asUser,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ args, code, output }));
  });
}

/** `idc ARGS` (ENTRYPOINT's command) run from the tree. */
export const runIdc = (tree: ImageTree, args: string[]): Promise<Run> =>
  runNode(tree, [path.join(tree.root, tree.command.target), ...args]);

/**
 * Imports every compiled module of the tree, as the user: a module that needs a package the
 * production install left out (a devDependency), or a file the image lacks, fails here even when
 * no command above loads it.
 */
export const importEveryModule = (tree: ImageTree, dir: string): Promise<Run> =>
  runNode(tree, [
    "--input-type=module",
    "-e",
    `import { readdirSync } from "node:fs";
     const files = readdirSync(${JSON.stringify(dir)}, { recursive: true }).filter((f) => f.endsWith(".js"));
     for (const f of files) await import(new URL(f, "file://" + ${JSON.stringify(`${path.join(tree.root, tree.final.workdir, dir)}/`)}).href);
     console.log("imported", files.length);`,
  ]);

/** `npm run image:check -- [OUT_DIR]`: assembles the tree and prints what `idc` does there. */
async function main(outArg: string | undefined): Promise<number> {
  const outDir = path.resolve(outArg ?? path.join(cacheDir(), "image-check", "tree"));
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const dockerfile = await readFile(path.join(repoRoot, "Dockerfile"), "utf8");
  const tree = await assembleImage(dockerfile, outDir);
  const runs: [string, Run][] = [
    [`idc ${tree.final.cmd.join(" ")}`, await runIdc(tree, tree.final.cmd)],
    ["idc version", await runIdc(tree, ["version"])],
    ["import every module of dist/", await importEveryModule(tree, "dist")],
  ];
  const user = tree.final.user ?? "root";
  process.stdout.write(`Final stage's tree: ${tree.root} (run as ${user}, ENV of the image)\n`);
  for (const [what, run] of runs)
    process.stdout.write(
      `  ${run.code === 0 ? "ok  " : "FAIL"} ${what}: ${run.output.split("\n")[0] ?? ""}\n`,
    );
  return runs.every(([, r]) => r.code === 0) ? 0 : 1;
}

if (import.meta.main) {
  main(process.argv[2]).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`image-check: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
