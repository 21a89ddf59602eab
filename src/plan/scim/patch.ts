/**
 * RFC 7644 3.5.2 PATCH, applied to a resource's SCIM JSON, with the forms the big provisioning
 * clients send (docs/adr/0017): `op` in any case; no `path` with a value object whose keys may
 * be dotted (`name.givenName`) or schema URNs; `remove` of `members` with a value list removes
 * those members only; `attr[filter]` and `attr[filter].sub` paths, where an `add`/`replace`
 * that matches nothing adds the element the filter describes (`emails[type eq "work"].value`).
 */
import { isDeepStrictEqual } from "node:util";
import { ScimError } from "./errors.ts";
import { findKey, matches, parsePatchPath, type Filter, type PatchPath } from "./filter.ts";
import { KNOWN_SCHEMAS } from "./schemas.ts";

type Json = Record<string, unknown>;
type Op = "add" | "replace" | "remove";

export interface PatchTarget {
  /** The resource's core schema URN (attributes without a URN prefix live there). */
  coreSchema: string;
  /** Multi-valued attributes, lower case (emails, members). */
  multiValued: ReadonlySet<string>;
  /** The canonical spelling of each attribute name, by its lower-case form. */
  canonical: ReadonlyMap<string, string>;
  /** Attributes a client may not change (id, meta, schemas), lower case. */
  readOnly: ReadonlySet<string>;
}

export interface PatchOperation {
  op: Op;
  path?: string;
  value?: unknown;
}

/** The operations of a PatchOp request body, checked and with `op` in lower case. */
export function patchOperations(body: unknown): PatchOperation[] {
  if (typeof body !== "object" || body === null)
    throw new ScimError(400, "the body must be a PatchOp JSON object", "invalidSyntax");
  const key = findKey(body, "Operations");
  const ops = key ? (body as Json)[key] : undefined;
  if (!Array.isArray(ops) || ops.length === 0)
    throw new ScimError(400, "a PatchOp needs a non-empty Operations array", "invalidSyntax");
  return ops.map((raw, i) => {
    if (typeof raw !== "object" || raw === null)
      throw new ScimError(400, `operation ${String(i)} is not an object`, "invalidSyntax");
    const item = raw as Json;
    const get = (name: string): unknown => {
      const k = findKey(item, name);
      return k ? item[k] : undefined;
    };
    const rawOp = get("op");
    const op = typeof rawOp === "string" ? rawOp.toLowerCase() : "";
    if (op !== "add" && op !== "replace" && op !== "remove")
      throw new ScimError(
        400,
        `operation ${String(i)}: op must be add, replace or remove`,
        "invalidSyntax",
      );
    const path = get("path");
    if (path !== undefined && typeof path !== "string")
      throw new ScimError(400, `operation ${String(i)}: path must be a string`, "invalidPath");
    const value = get("value");
    if (op !== "remove" && value === undefined)
      throw new ScimError(400, `operation ${String(i)}: ${op} needs a value`, "invalidValue");
    if (op === "remove" && (path === undefined || path === ""))
      throw new ScimError(400, `operation ${String(i)}: remove needs a path`, "noTarget");
    return { op, ...(path ? { path } : {}), ...(value !== undefined ? { value } : {}) };
  });
}

const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Multi-valued items are the same when their `value`s are (members, emails), else when equal. */
function sameItem(a: unknown, b: unknown): boolean {
  if (isObject(a) && isObject(b) && "value" in a && "value" in b) return a.value === b.value;
  return isDeepStrictEqual(a, b);
}

/** Where one operation applies: an attribute `key` of `scope` (the resource or an extension). */
interface Target {
  op: Op;
  scope: Json;
  key: string;
  value: unknown;
}

class Patcher {
  private readonly target: PatchTarget;
  readonly resource: Json;

  constructor(resource: Json, target: PatchTarget) {
    this.resource = structuredClone(resource);
    this.target = target;
  }

  private name(raw: string): string {
    return this.target.canonical.get(raw.toLowerCase()) ?? raw;
  }

  /** The object a path's attributes live in: the resource, or its extension (made if asked). */
  private scope(schema: string | undefined, create: boolean): Json | undefined {
    if (!schema || schema.toLowerCase() === this.target.coreSchema.toLowerCase())
      return this.resource;
    const key = findKey(this.resource, schema) ?? schema;
    const existing = this.resource[key];
    if (isObject(existing)) return existing;
    if (!create) return undefined;
    const ext: Json = {};
    this.resource[key] = ext;
    const schemas: unknown[] = Array.isArray(this.resource.schemas) ? this.resource.schemas : [];
    if (!schemas.includes(schema)) this.resource.schemas = [...schemas, schema];
    return ext;
  }

  apply(op: PatchOperation): void {
    if (op.path === undefined) {
      if (!isObject(op.value))
        throw new ScimError(400, `${op.op} without a path needs an object value`, "invalidValue");
      for (const [key, value] of Object.entries(op.value)) {
        if (key.toLowerCase() === "schemas") continue;
        const schema = KNOWN_SCHEMAS.find((s) => s.toLowerCase() === key.toLowerCase());
        if (schema && schema !== this.target.coreSchema && isObject(value)) {
          for (const [sub, subValue] of Object.entries(value))
            this.applyPath(op.op, parsePatchPath(`${schema}:${sub}`, KNOWN_SCHEMAS), subValue);
        } else {
          this.applyPath(op.op, parsePatchPath(schema ? "" : key, KNOWN_SCHEMAS), value, schema);
        }
      }
      return;
    }
    this.applyPath(op.op, parsePatchPath(op.path, KNOWN_SCHEMAS), op.value);
  }

  private applyPath(op: Op, path: PatchPath, value: unknown, wholeSchema?: string): void {
    if (wholeSchema) {
      // The core schema's URN as a key: its attributes are the resource's own.
      if (isObject(value))
        for (const [k, v] of Object.entries(value))
          this.applyPath(op, parsePatchPath(k, KNOWN_SCHEMAS), v);
      return;
    }
    const { attr } = path;
    if (attr.names.length === 0) {
      // A bare extension URN: the value is the extension's attributes.
      if (op === "remove") {
        const key = attr.schema ? findKey(this.resource, attr.schema) : undefined;
        if (key) Reflect.deleteProperty(this.resource, key);
        return;
      }
      if (!isObject(value))
        throw new ScimError(400, `${attr.schema ?? ""} needs an object value`, "invalidValue");
      for (const [k, v] of Object.entries(value))
        this.applyPath(op, { attr: { ...attr, names: [k] } }, v);
      return;
    }
    const [first, sub, ...deeper] = attr.names as [string, string | undefined, ...string[]];
    if (deeper.length > 0)
      throw new ScimError(400, `path ${attr.names.join(".")} is too deep`, "invalidPath");
    if (this.target.readOnly.has(first.toLowerCase()) && !attr.schema) return; // RFC 7644 3.5.2: ignored
    const scope = this.scope(attr.schema, op !== "remove");
    if (!scope) return;
    const key = findKey(scope, first) ?? this.name(first);
    const multi = this.target.multiValued.has(first.toLowerCase());
    if (path.filter) {
      if (!multi)
        throw new ScimError(400, `${first} is not multi-valued: it takes no filter`, "invalidPath");
      this.applyFiltered({ op, scope, key, value }, path.filter, path.subAttr);
    } else if (sub !== undefined) {
      this.applySub({ op, scope, key, value }, this.name(sub), multi);
    } else if (multi) {
      this.applyMulti(op, scope, key, value);
    } else if (op === "remove") {
      Reflect.deleteProperty(scope, key);
    } else if (isObject(value) && isObject(scope[key])) {
      // Sub-attributes not given are kept (RFC 7644 3.5.2.1 and 3.5.2.3).
      scope[key] = { ...scope[key], ...this.canonicalKeys(value) };
    } else {
      scope[key] = isObject(value) ? this.canonicalKeys(value) : value;
    }
  }

  private canonicalKeys(value: Json): Json {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [this.name(k), v]));
  }

  private applyMulti(op: Op, scope: Json, key: string, value: unknown): void {
    const current = Array.isArray(scope[key]) ? (scope[key] as unknown[]) : [];
    const given: unknown[] = value === undefined ? [] : Array.isArray(value) ? value : [value];
    const items = given.map((v) => (isObject(v) ? this.canonicalKeys(v) : v));
    if (op === "replace") {
      scope[key] = items;
      return;
    }
    const byValue = (list: unknown[]) =>
      new Set(
        list
          .filter(isObject)
          .filter((v) => "value" in v)
          .map((v) => String(v.value)),
      );
    if (op === "add") {
      const present = byValue(current);
      const added = items.filter((item) => {
        if (isObject(item) && "value" in item) {
          const v = String(item.value);
          if (present.has(v)) return false;
          present.add(v);
          return true;
        }
        return !current.some((c) => sameItem(c, item));
      });
      scope[key] = [...current, ...added];
      return;
    }
    // remove: with a value list, only those (what Entra ID means); without, all of them.
    if (items.length === 0) {
      Reflect.deleteProperty(scope, key);
      return;
    }
    const removed = byValue(items);
    const rest = current.filter((c) =>
      isObject(c) && "value" in c
        ? !removed.has(String(c.value))
        : !items.some((i) => sameItem(c, i)),
    );
    if (rest.length > 0) scope[key] = rest;
    else Reflect.deleteProperty(scope, key);
  }

  private applySub(at: Target, sub: string, multi: boolean): void {
    const { op, scope, key, value } = at;
    if (multi) {
      // `emails.value` with no filter: every element.
      const list = Array.isArray(scope[key]) ? (scope[key] as unknown[]) : [];
      for (const item of list.filter(isObject)) {
        if (op === "remove") Reflect.deleteProperty(item, findKey(item, sub) ?? sub);
        else item[findKey(item, sub) ?? sub] = value;
      }
      return;
    }
    if (op === "remove") {
      const inner = scope[key];
      if (isObject(inner)) Reflect.deleteProperty(inner, findKey(inner, sub) ?? sub);
      return;
    }
    const current = scope[key];
    const inner = isObject(current) ? current : {};
    inner[findKey(inner, sub) ?? sub] = value;
    scope[key] = inner;
  }

  private applyFiltered(at: Target, filter: Filter, subAttr: string | undefined): void {
    const { op, scope, key, value } = at;
    const list = Array.isArray(scope[key]) ? (scope[key] as unknown[]) : [];
    const hit = (item: unknown) => isObject(item) && matches(item, filter, this.target.coreSchema);
    if (op === "remove") {
      if (subAttr === undefined) {
        const rest = list.filter((item) => !hit(item));
        if (rest.length > 0) scope[key] = rest;
        else Reflect.deleteProperty(scope, key);
      } else {
        for (const item of list.filter(hit) as Json[])
          Reflect.deleteProperty(item, findKey(item, subAttr) ?? subAttr);
      }
      return;
    }
    const matched = list.filter(hit) as Json[];
    if (matched.length === 0) {
      // Nothing matches: add the element the filter describes (`type eq "work"`) with the value.
      const seed =
        filter.op === "eq" && filter.path.names.length === 1
          ? { [this.name(filter.path.names[0] ?? "")]: filter.value }
          : undefined;
      if (!seed) throw new ScimError(400, `no ${key} value matches the path's filter`, "noTarget");
      const element =
        subAttr === undefined
          ? { ...seed, ...(isObject(value) ? this.canonicalKeys(value) : {}) }
          : { ...seed, [this.name(subAttr)]: value };
      scope[key] = [...list, element];
      return;
    }
    for (const item of matched) {
      if (subAttr !== undefined) item[findKey(item, subAttr) ?? this.name(subAttr)] = value;
      else if (isObject(value)) Object.assign(item, this.canonicalKeys(value));
      else throw new ScimError(400, `${key}[...] needs an object value`, "invalidValue");
    }
  }
}

/** The resource after the operations, applied in order to a copy (all or nothing). */
export function applyPatch(
  resource: Json,
  operations: PatchOperation[],
  target: PatchTarget,
): Json {
  const patcher = new Patcher(resource, target);
  for (const op of operations) patcher.apply(op);
  return patcher.resource;
}
