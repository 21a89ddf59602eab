import { chmod, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assembleImage,
  importEveryModule,
  readDockerfile,
  runIdc,
  type ImageTree,
} from "../../../scripts/image-check.ts";
import { repoRoot } from "../../harness/paths.ts";

interface PackageJson {
  version: string;
  devDependencies: Record<string, string>;
}

const DEV_TOOLS = ["vitest", "typescript", "eslint", "playwright-core", "oidc-provider"];

// What the image holds and how it starts, without Docker (none runs here, and the base image
// cannot be pulled): the final stage's WORKDIR made from the Dockerfile's COPY lines with the
// real production install and build, and `idc` run from it with the image's ENV, as its USER.
describe("the image", () => {
  let outDir = "";
  let dockerfile = "";
  let tree: ImageTree;
  let pkg: PackageJson;
  const appPath = (rel: string) => path.join(tree.root, tree.final.workdir, rel);

  beforeAll(async () => {
    pkg = JSON.parse(await readFile(path.join(repoRoot, "package.json"), "utf8")) as PackageJson;
    dockerfile = await readFile(path.join(repoRoot, "Dockerfile"), "utf8");
    outDir = await mkdtemp(path.join(tmpdir(), "idc-image-"));
    await chmod(outDir, 0o755); // the image's user must reach the tree inside it
    // Cold, this runs `npm ci --omit=dev` (then kept in the cache folder) and tsc.
    tree = await assembleImage(dockerfile, path.join(outDir, "image"));
  }, 600_000);

  afterAll(async () => {
    if (outDir && !process.env.IDC_KEEP_TEST_DIRS)
      await rm(outDir, { recursive: true, force: true });
  });

  it("starts from Node 24 as a numeric non-root user, with the production ENV", () => {
    const stages = readDockerfile(dockerfile);
    for (const stage of stages) expect(stage.image).toMatch(/^node:24-/);
    expect(process.versions.node.split(".")[0]).toBe("24"); // what stands in for the base image
    expect(tree.final.user).toMatch(/^[1-9][0-9]*:[0-9]+$/);
    expect(tree.final.env.NODE_ENV).toBe("production");
    expect(tree.final.entrypoint).toEqual(["idc"]);
    expect(tree.command).toEqual({ path: "/usr/local/bin/idc", target: "/app/dist/cli.js" });
  });

  it("runs idc from the pruned tree, as the image's user: ENTRYPOINT + CMD, version, controller --help", async () => {
    expect((await readFile(appPath("dist/cli.js"), "utf8")).split("\n")[0]).toBe(
      "#!/usr/bin/env node",
    );
    const help = await runIdc(tree, tree.final.cmd);
    expect(help).toMatchObject({ code: 0 });
    expect(help.output).toContain("Usage: idc <command>");
    const version = await runIdc(tree, ["version"]);
    expect(version).toMatchObject({ code: 0 });
    expect(version.output).toContain(`idc ${pkg.version} (node 24.`);
    const controller = await runIdc(tree, ["controller", "--help"]);
    expect(controller).toMatchObject({ code: 0 });
    expect(controller.output).toContain("--namespace");
  });

  it("loads every compiled module with only the production packages", async () => {
    const run = await importEveryModule(tree, "dist");
    expect(run.output).toMatch(/^imported [1-9][0-9]+\n$/);
    expect(run.code).toBe(0);
  });

  it("has no package that only devDependencies need, and no TypeScript source", async () => {
    const lockFile = await readFile(path.join(repoRoot, "package-lock.json"), "utf8");
    const lock = JSON.parse(lockFile) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.keys(lock.packages).filter((p) => lock.packages[p]?.dev === true);
    // A devDependency also needed in production (@types/node, through client-node) is not "dev".
    expect(devOnly).toEqual(expect.arrayContaining(DEV_TOOLS.map((n) => `node_modules/${n}`)));
    const present = [];
    for (const location of devOnly)
      if (await stat(appPath(location)).catch(() => undefined)) present.push(location);
    expect(present).toEqual([]);
    await expect(stat(appPath("src"))).rejects.toThrow(/ENOENT/);
    const dist = await readdir(appPath("dist"), { recursive: true });
    expect(dist.filter((f) => /\.[cm]?ts$/.test(f))).toEqual([]);
  });

  it("has the portal's page templates, the CRDs and package.json", async () => {
    const views = (await readdir(path.join(repoRoot, "src/portal/views"))).sort();
    expect(views).toContain("layout.eta");
    expect((await readdir(appPath("dist/portal/views"))).sort()).toEqual(views);
    const crds = (await readdir(path.join(repoRoot, "crds"))).sort();
    expect(crds.length).toBeGreaterThan(0);
    expect((await readdir(appPath("crds"))).sort()).toEqual(crds);
    expect(JSON.parse(await readFile(appPath("package.json"), "utf8"))).toEqual(pkg);
  });

  it("fails when the Dockerfile leaves out a file idc needs (package.json for its version)", async () => {
    const without = dockerfile.replace(/^COPY package\.json \.\/\n/m, "");
    expect(without).not.toBe(dockerfile);
    const broken = await assembleImage(without, path.join(outDir, "without-package-json"), tree);
    const version = await runIdc(broken, ["version"]);
    expect(version.code).not.toBe(0);
    expect(version.output).toContain("package.json");
  }, 300_000); // the final stage again: a copy of the production node_modules

  it("refuses a Dockerfile line it does not model, with the line", () => {
    expect(() => readDockerfile("FROM node:24-slim\n\nEXPOSE 8080\n")).toThrow(
      /Dockerfile:3: EXPOSE is not checked/,
    );
    expect(() => readDockerfile("FROM node:24\nCOPY --chown=1:1 a b\n")).toThrow(/--chown/);
    expect(() => readDockerfile("FROM node:24\nENV A=$B\n")).toThrow(/variable substitution/);
    expect(() => readDockerfile("FROM node:24\nENTRYPOINT idc\n")).toThrow(/shell form/);
  });
});
