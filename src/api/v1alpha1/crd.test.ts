import { describe, expect, it } from "vitest";
import { buildCrd } from "./crd.ts";
import { kindDefinitions } from "./index.ts";

type Node = Record<string, unknown>;

/** Every property path under a schema node whose schema has no description. */
function undocumented(node: Node, at: string): string[] {
  const missing: string[] = [];
  const properties = (node.properties ?? {}) as Record<string, Node>;
  for (const [name, child] of Object.entries(properties)) {
    const childPath = `${at}.${name}`;
    if (typeof child.description !== "string" || child.description.length === 0) {
      missing.push(childPath);
    }
    missing.push(...undocumented(child, childPath));
  }
  if (typeof node.items === "object" && node.items !== null) {
    missing.push(...undocumented(node.items as Node, `${at}[]`));
  }
  return missing;
}

describe.each(kindDefinitions.map((d) => ({ kind: d.kind, def: d })))("$kind CRD", ({ def }) => {
  const crd = buildCrd(def);
  const version = crd.spec.versions[0];
  const schema = version?.schema?.openAPIV3Schema as Node;
  const properties = schema.properties as Record<string, Node>;

  it("is cluster-scoped, in the identity-center category, with a status subresource", () => {
    expect(crd.spec.scope).toBe("Cluster");
    expect(crd.spec.names.categories).toEqual(["identity-center"]);
    expect(version?.subresources?.status).toEqual({});
    expect(crd.metadata?.name).toBe(`${def.plural}.identitycenter.dev`);
  });

  it("documents every spec and status field", () => {
    expect(undocumented(properties.spec as Node, "spec")).toEqual([]);
    expect(undocumented(properties.status as Node, "status")).toEqual([]);
  });

  it("never requires a field that has a default", () => {
    const offenders: string[] = [];
    const walk = (node: Node, at: string) => {
      const props = (node.properties ?? {}) as Record<string, Node>;
      for (const name of (node.required ?? []) as string[]) {
        if (props[name]?.default !== undefined) offenders.push(`${at}.${name}`);
      }
      for (const [name, child] of Object.entries(props)) walk(child, `${at}.${name}`);
      if (node.items) walk(node.items as Node, `${at}[]`);
    };
    walk(schema, "");
    expect(offenders).toEqual([]);
  });

  it("shows Ready and Age in kubectl get", () => {
    const names = (version?.additionalPrinterColumns ?? []).map((c) => c.name);
    expect(names).toContain("Ready");
    expect(names).toContain("Age");
  });

  it("has conditions and observedGeneration in its status", () => {
    const status = properties.status?.properties as Record<string, Node>;
    expect(Object.keys(status)).toEqual(
      expect.arrayContaining(["conditions", "observedGeneration"]),
    );
  });
});
