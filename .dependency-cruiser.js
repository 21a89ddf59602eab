// The layers of docs/adr/0013-layer-rules.md as import rules: `npm run lint` fails when an
// import breaks one. Each rule names the layer it guards; `to` lists what that layer may not
// import (our own code outside its allowed layers, or I/O for the pure layers).

/** Our own code, wherever it lives. */
const OURS = "^(src|scripts|test|bench)/";

/**
 * A rule that lets the files under `from` import, of our code, only paths matching `allowed`.
 * @param {string} name
 * @param {string} comment
 * @param {string} from
 * @param {string} allowed
 */
const onlyImports = (name, comment, from, allowed) => ({
  name,
  comment,
  severity: "error",
  from: { path: from },
  // Test object builders are allowed everywhere here; the rule below keeps them in tests.
  to: { path: OURS, pathNot: [allowed, "^src/testing/"] },
});

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    onlyImports(
      "api-and-util-are-the-bottom",
      "api/ and util/ import nothing of ours but each other.",
      "^src/(api|util)/",
      "^src/(api|util)/",
    ),
    onlyImports(
      "pure-layers-import-api-and-util",
      "plan/, saml/ and identity/ import api/, util/ and their own folder only.",
      "^src/(plan|saml|identity)/",
      "^src/(api|util|$1)/",
    ),
    {
      name: "pure-layers-do-no-io",
      comment:
        "api/, util/, plan/, saml/ and identity/ are pure: no Kubernetes or AWS client, no HTTP, " +
        "no files, no processes (their unit tests may use what they like).",
      severity: "error",
      from: { path: "^src/(api|util|plan|saml|identity)/", pathNot: "\\.test\\.ts$" },
      to: {
        dependencyTypesNot: ["type-only"],
        path: [
          "^node_modules/(@kubernetes/client-node|@aws-sdk/|@smithy/|fastify|@fastify/|pino|prom-client)",
          "^(node:)?(fs|fs/promises|net|http|https|http2|child_process|dgram|dns|tls|cluster|worker_threads|os)$",
        ],
      },
    },
    onlyImports(
      "runtime-is-generic",
      "runtime/ knows no kind and no metrics type of ours: it imports util/ only and takes interfaces.",
      "^src/runtime/",
      "^src/(runtime|util)/",
    ),
    onlyImports(
      "observability-is-a-leaf",
      "observability/ (logger and metric registries) imports util/ only.",
      "^src/observability/",
      "^src/(observability|util)/",
    ),
    onlyImports(
      "adapters-never-import-upwards",
      "adapters/ import api/, plan/, identity/, util/ and runtime/; never portal/, controllers/ or commands/.",
      "^src/adapters/",
      "^src/(adapters|api|plan|identity|util|runtime)/",
    ),
    onlyImports(
      "controllers-import-lower-layers",
      "controllers/ import the layers below them; never portal/, commands/ or the wiring.",
      "^src/controllers/",
      "^src/(controllers|adapters|api|plan|saml|identity|util|runtime|observability)/",
    ),
    {
      name: "controllers-stay-in-their-folder",
      comment:
        "A controller imports its own folder and the shared context, never another controller's " +
        "folder: what two controllers share moves down (to plan/ or identity/).",
      severity: "error",
      from: { path: "^src/controllers/([^/]+)/" },
      to: {
        path: "^src/controllers/",
        pathNot: ["^src/controllers/$1/", "^src/controllers/context\\.ts$"],
      },
    },
    {
      name: "controllers-folder-holds-only-controllers",
      comment: "Besides the shared context, src/controllers/ holds one folder per controller.",
      severity: "error",
      from: {},
      to: { path: "^src/controllers/[^/]+\\.ts$", pathNot: "^src/controllers/context\\.ts$" },
    },
    onlyImports(
      "portal-never-imports-controllers",
      "portal/ imports saml/, plan/, identity/, adapters/, runtime/ (and api/, util/, observability/); never controllers/.",
      "^src/portal/",
      "^src/(portal|saml|plan|identity|adapters|runtime|api|util|observability)/",
    ),
    {
      name: "commands-wire-controllers-through-the-operator",
      comment: "commands/ start the operator through operator.ts; they never import controllers/.",
      severity: "error",
      from: { path: "^src/(commands/|cli\\.ts$)" },
      to: { path: "^src/controllers/" },
    },
    {
      name: "nothing-imports-the-wiring",
      comment: "commands/, cli.ts and operator.ts are the top: only the wiring imports them.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(commands/|(cli|operator)(\\.test)?\\.ts$)" },
      to: { path: "^src/(commands/|cli\\.ts$|operator\\.ts$|version\\.ts$)" },
    },
    {
      name: "src-never-imports-tests-scripts-or-benches",
      comment: "src/ stands alone: it never imports test/, scripts/ or bench/.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(test|scripts|bench)/" },
    },
    {
      name: "scripts-never-import-tests",
      comment: "scripts/ may import src/, never test/ or bench/.",
      severity: "error",
      from: { path: "^scripts/" },
      to: { path: "^(test|bench)/" },
    },
    {
      name: "builders-only-in-tests",
      comment: "src/testing/ (test object builders) is for unit tests, test/ and bench/ only.",
      severity: "error",
      from: { pathNot: ["\\.test\\.ts$", "^test/", "^bench/", "^src/testing/"] },
      to: { path: "^src/testing/" },
    },
    onlyImports(
      "builders-import-api-only",
      "src/testing/ builds API objects: it imports api/ and util/ only.",
      "^src/testing/",
      "^src/(testing|api|util)/",
    ),
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Type-only imports count: a layer that names a type of a higher one depends on it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};
