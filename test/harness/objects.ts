import { readFile } from "node:fs/promises";
import {
  KubernetesObjectApi,
  type KubeConfig,
  type KubernetesObject,
} from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";

/** Reads every object in a multi-document YAML file. */
export async function readObjects(file: string): Promise<KubernetesObject[]> {
  return parseAllDocuments(await readFile(file, "utf8"))
    .map((doc) => doc.toJS() as KubernetesObject | null)
    .filter((obj): obj is KubernetesObject => obj !== null);
}

/** Creates objects in order and returns them as the API server stored them. */
export async function createObjects(
  kc: KubeConfig,
  objects: KubernetesObject[],
): Promise<KubernetesObject[]> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const created: KubernetesObject[] = [];
  for (const obj of objects) created.push(await api.create(obj));
  return created;
}

export { apiErrorMessage } from "../../src/runtime/api-errors.ts";
