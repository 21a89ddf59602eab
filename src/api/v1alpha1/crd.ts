import type { V1CustomResourceDefinition } from "@kubernetes/client-node";
import { GROUP, VERSION, type KindDefinition } from "./schema.ts";

/**
 * `kubectl get identity-center` lists every object of ours. kubectl expands a category before it
 * looks up a resource, so the category must differ from every resource's name, singular and
 * short name: `identitycenter` (the kind's singular) broke `kubectl get identitycenter default`.
 */
export const CATEGORY = "identity-center";

type SchemaNode = Record<string, unknown>;

/**
 * A field with a default is not required from the writer: the API server fills it in. TypeBox
 * lists it as required (so the TypeScript type of a stored object has it), and the API server
 * would refuse an object that leaves it out, so it is dropped from `required` here.
 */
function dropDefaultedFromRequired(node: SchemaNode): void {
  const properties = node.properties as Record<string, SchemaNode> | undefined;
  if (properties && Array.isArray(node.required)) {
    const required = (node.required as string[]).filter(
      (k) => properties[k]?.default === undefined,
    );
    if (required.length > 0) node.required = required;
    else delete node.required;
  }
  for (const child of Object.values(properties ?? {})) dropDefaultedFromRequired(child);
  if (typeof node.items === "object" && node.items !== null) {
    dropDefaultedFromRequired(node.items as SchemaNode);
  }
  if (typeof node.additionalProperties === "object" && node.additionalProperties !== null) {
    dropDefaultedFromRequired(node.additionalProperties as SchemaNode);
  }
}

/**
 * TypeBox schemas are JSON Schema objects; a round trip through JSON drops TypeBox's symbol
 * markers and leaves the structural schema the API server expects.
 */
function plainSchema(schema: unknown): SchemaNode {
  const node = JSON.parse(JSON.stringify(schema)) as SchemaNode;
  dropDefaultedFromRequired(node);
  return node;
}

/** The CustomResourceDefinition for one kind. Pure: the generator writes it to crds/. */
export function buildCrd(def: KindDefinition): V1CustomResourceDefinition {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${def.plural}.${GROUP}`,
      labels: { "app.kubernetes.io/part-of": "identity-center-operator" },
    },
    spec: {
      group: GROUP,
      scope: "Cluster",
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: [CATEGORY],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.columns,
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: def.description,
              required: ["spec"],
              properties: {
                apiVersion: {
                  type: "string",
                  description: "APIVersion of this object: identitycenter.dev/v1alpha1.",
                },
                kind: { type: "string", description: `Kind of this object: ${def.kind}.` },
                metadata: { type: "object" },
                spec: plainSchema(def.spec),
                status: plainSchema(def.status),
              },
              ...(def.rootRules ? { "x-kubernetes-validations": def.rootRules } : {}),
            },
          },
        },
      ],
    },
  };
}
