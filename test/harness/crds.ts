import { readdirSync } from "node:fs";
import path from "node:path";
import type { TestEnvironment } from "./environment.ts";
import { repoRoot } from "./paths.ts";
import { waitFor } from "./wait.ts";

/** The generated CRD files of the operator. */
export function operatorCrdFiles(): string[] {
  const dir = path.join(repoRoot, "crds");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => path.join(dir, f));
}

type Json = Record<string, unknown>;

/** A copy of a schema without the CEL rules whose message matches `drop`. */
function withoutRules(node: unknown, drop: RegExp): unknown {
  if (Array.isArray(node)) return node.map((n) => withoutRules(n, drop));
  if (typeof node !== "object" || node === null) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node as Json)) {
    out[key] =
      key === "x-kubernetes-validations" && Array.isArray(value)
        ? (value as { message?: string }[]).filter((r) => !drop.test(r.message ?? ""))
        : withoutRules(value, drop);
  }
  return out;
}

/**
 * Stores `object` as an older CRD without some of today's rules would have (the rules whose
 * message matches `drop`), then puts today's CRD back: what a cluster holds after an operator
 * upgrade, since Helm never upgrades CRDs and objects are not re-validated. Run-time checks must
 * catch such objects. Both switches are confirmed with server dry runs.
 */
export async function storeUnderOlderCrd(
  env: TestEnvironment,
  target: { crdName: string; collectionPath: string; drop: RegExp },
  object: Json & { metadata: { name: string } },
): Promise<void> {
  const { crdName, collectionPath, drop } = target;
  const crdPath = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`;
  const current = (await env.apiServer.request("GET", crdPath)).body as Json;
  const put = async (body: Json) => {
    const res = await env.apiServer.request("PUT", crdPath, body);
    if (res.status !== 200)
      throw new Error(`replacing CRD ${crdName}: ${JSON.stringify(res.body)}`);
    return res.body as Json;
  };
  const dryRun = async () =>
    (
      await env.apiServer.request("POST", `${collectionPath}?dryRun=All`, {
        ...object,
        metadata: { name: `${object.metadata.name}-dry-run` },
      })
    ).status;
  const older = await put({ ...current, spec: withoutRules(current.spec, drop) });
  await waitFor("the older CRD to admit the object", async () => (await dryRun()) === 201);
  const created = await env.apiServer.request("POST", collectionPath, object);
  if (created.status !== 201) throw new Error(`storing: ${JSON.stringify(created.body)}`);
  await put({ ...current, metadata: (older as { metadata: Json }).metadata });
  await waitFor("today's CRD to refuse the object again", async () => (await dryRun()) === 422);
}
