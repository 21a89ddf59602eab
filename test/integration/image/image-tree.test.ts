import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildImageTree,
  inspectImageTree,
  parseDockerfile,
  type ImageTree,
  type TreeFacts,
} from "../../../scripts/image-tree.ts";
import { repoRoot } from "../../harness/paths.ts";

interface PackageJson {
  version: string;
  devDependencies: Record<string, string>;
}

const DEV_TOOLS = [
  "vitest",
  "typescript",
  "eslint",
  "playwright-core",
  "samlify",
  "@node-saml/node-saml",
];

// The image's contents without Docker: the final stage's file tree, built by following the
// Dockerfile (scripts/image-tree.ts), with `idc` run from it as the ENTRYPOINT would run it.
describe("the image's file tree", () => {
  let outDir = "";
  let tree: ImageTree;
  let facts: TreeFacts;
  let pkg: PackageJson;
  const inTree = (imagePath: string) => path.join(tree.root, imagePath);
  const appPath = (rel: string) => inTree(path.posix.join(tree.workdir, rel));
  const run = (args: string) => facts.runs.find((r) => r.argv.slice(1).join(" ") === args);

  beforeAll(async () => {
    pkg = JSON.parse(await readFile(path.join(repoRoot, "package.json"), "utf8")) as PackageJson;
    outDir = await mkdtemp(path.join(tmpdir(), "idc-image-tree-"));
    // Cold (no cached layers) this runs npm ci twice and tsc: minutes on a busy machine.
    tree = await buildImageTree({ outDir });
    facts = await inspectImageTree(tree);
  }, 600_000);

  afterAll(async () => {
    if (outDir && !process.env.IDC_KEEP_TEST_DIRS)
      await rm(outDir, { recursive: true, force: true });
  });

  it("follows the final stage: WORKDIR, ENV, USER and ENTRYPOINT", () => {
    expect(tree.workdir).toBe("/app");
    expect(tree.env.NODE_ENV).toBe("production");
    expect(tree.user).toBe("65532:65532");
    expect(tree.entrypoint).toEqual(["idc"]);
    expect(facts.entrypoint).toEqual({
      path: "/usr/local/bin/idc",
      target: "/app/dist/cli.js",
      executableByAll: true,
    });
  });

  it("`idc version` prints package.json's version", () => {
    expect(run("version")).toMatchObject({ code: 0 });
    expect(run("version")?.output).toContain(`idc ${pkg.version} `);
  });

  it("`idc controller --help` prints its usage", () => {
    expect(run("controller --help")).toMatchObject({ code: 0 });
    expect(run("controller --help")?.output).toMatch(/^Usage: idc controller/);
    expect(run("controller --help")?.output).toContain("--namespace");
  });

  it("runs `idc help` with no arguments (ENTRYPOINT + CMD)", () => {
    expect(run("help")).toMatchObject({ code: 0 });
    expect(run("help")?.output).toContain("Usage: idc <command>");
  });

  it("has no package that only devDependencies need", async () => {
    const lockFile = await readFile(path.join(repoRoot, "package-lock.json"), "utf8");
    const lock = JSON.parse(lockFile) as { packages: Record<string, { dev?: boolean }> };
    // A devDependency also needed in production (@types/node, through client-node) is not "dev".
    const devOnly = Object.keys(pkg.devDependencies).filter(
      (name) => lock.packages[`node_modules/${name}`]?.dev === true,
    );
    expect(devOnly).toEqual(expect.arrayContaining(DEV_TOOLS));
    for (const name of devOnly) {
      await expect(stat(appPath(`node_modules/${name}`)), name).rejects.toThrow(/ENOENT/);
    }
    expect(facts.devOnlyPackages).toBeGreaterThan(devOnly.length);
    expect(facts.devOnlyPresent).toEqual([]);
  });

  it("has the compiled CLI and no TypeScript source", async () => {
    expect((await stat(appPath("dist/cli.js"))).isFile()).toBe(true);
    await expect(stat(appPath("src"))).rejects.toThrow(/ENOENT/);
    expect(facts.typeScriptFiles).toEqual([]);
  });

  it("has the portal's page templates beside its compiled code", async () => {
    const views = (await readdir(path.join(repoRoot, "src/portal/views"))).sort();
    expect(views).toContain("layout.eta");
    expect((await readdir(appPath("dist/portal/views"))).sort()).toEqual(views);
  });

  it("has the CRDs and package.json, readable by the non-root user", async () => {
    const crds = (await readdir(path.join(repoRoot, "crds"))).sort();
    expect(crds.length).toBeGreaterThan(0);
    expect((await readdir(appPath("crds"))).sort()).toEqual(crds);
    expect(JSON.parse(await readFile(appPath("package.json"), "utf8"))).toEqual(pkg);
    expect(facts.notReadableByAll).toEqual([]);
    expect(facts.sizeBytes).toBeGreaterThan(10 * 1024 * 1024);
  });
});

describe("the Dockerfile interpreter", () => {
  it("refuses an instruction it does not know, with the line", () => {
    expect(() => parseDockerfile("FROM node:24-slim\n\nEXPOSE 8080\n")).toThrow(
      /Dockerfile:3: EXPOSE is not supported/,
    );
  });

  it("refuses what it would get wrong rather than guessing", () => {
    expect(() => parseDockerfile("FROM node:24\nCOPY --chown=1:1 a b\n")).toThrow(/--chown/);
    expect(() => parseDockerfile("FROM node:24\nCOPY src/*.ts ./\n")).toThrow(/wildcards/);
    expect(() => parseDockerfile("FROM node:24\nENV A=$B\n")).toThrow(/variable substitution/);
    expect(() => parseDockerfile("FROM node:24\nENTRYPOINT idc\n")).toThrow(/exec form/);
  });

  it("reads stages, continuation lines and quoted ENV values", () => {
    const stages = parseDockerfile(
      [
        "# syntax=docker/dockerfile:1",
        "FROM node:24 AS build",
        "RUN a && \\",
        "  b",
        "FROM node:24",
        'ENV X="one two" Y=3',
        "COPY --from=build /src/dist ./dist",
      ].join("\n"),
    );
    expect(stages.map((s) => s.name)).toEqual(["build", "stage-1"]);
    expect(stages[0]?.instructions[0]).toMatchObject({ kind: "RUN", command: "a && b", line: 3 });
    expect(stages[1]?.instructions).toMatchObject([
      {
        kind: "ENV",
        vars: [
          ["X", "one two"],
          ["Y", "3"],
        ],
      },
      { kind: "COPY", from: "build", sources: ["/src/dist"], dest: "./dist" },
    ]);
  });
});
