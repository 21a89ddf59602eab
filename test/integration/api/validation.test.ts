import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { apiErrorMessage } from "../../harness/objects.ts";
import { repoRoot } from "../../harness/paths.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";

// Each file under invalid/ holds one object that breaks one rule, and a first line
// `# expect: <text>` with what the API server's message must contain. A file with two objects
// creates the first, then updates it to the second, which must be refused.
const corpusDir = path.join(repoRoot, "test/integration/api/invalid");
const corpus = readdirSync(corpusDir)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((file) => {
    const text = readFileSync(path.join(corpusDir, file), "utf8");
    const expected = /^# expect: (.+)$/m.exec(text)?.[1];
    if (!expected) throw new Error(`${file} has no "# expect:" line`);
    const objects = parseAllDocuments(text).map((d) => d.toJS() as KubernetesObject);
    return { file, expected, objects };
  });

describe("API server validation of invalid objects", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles() });

  it("has a corpus of at least 40 invalid objects", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(40);
  });

  it.each(corpus)("refuses $file", async ({ expected, objects }) => {
    const api = KubernetesObjectApi.makeApiClient(env().kubeConfig());
    const invalid = objects.at(-1);
    if (!invalid) throw new Error("empty corpus file");
    const before =
      objects.length > 1 ? await api.create(objects[0] as KubernetesObject) : undefined;

    let message = "";
    try {
      if (before) {
        // Same object, new spec: keep the stored metadata (resourceVersion) for the update.
        await api.replace({ ...invalid, metadata: before.metadata });
      } else {
        await api.create(invalid);
      }
    } catch (err) {
      message = apiErrorMessage(err);
    }
    expect(message, "the API server accepted an invalid object").not.toBe("");
    expect(message).toContain(expected);

    if (before) {
      // The refused update changed nothing.
      const current = await api.read(before as KubernetesObject & { metadata: { name: string } });
      expect((current as { spec?: unknown }).spec).toEqual((before as { spec?: unknown }).spec);
      await api.delete(current);
    }
  });
});
