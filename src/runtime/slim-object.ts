import type { KubernetesObject } from "@kubernetes/client-node";

/** The annotation `kubectl apply` keeps: a whole copy of the object as last applied. */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * Strings that repeat across many cached objects (apiVersion, kind, condition types, reasons
 * and messages, time stamps written in the same second). JSON.parse makes a new string for
 * every occurrence; sharing one saves about a fifth of a cached User. The pool is bounded, so
 * strings of objects long deleted cannot pile up: once full, new strings are kept as they are.
 */
export class StringPool {
  private readonly strings = new Map<string, string>();
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  intern(value: string): string {
    const shared = this.strings.get(value);
    if (shared !== undefined) return shared;
    if (this.strings.size < this.capacity && value.length <= 512) this.strings.set(value, value);
    return value;
  }

  get size(): number {
    return this.strings.size;
  }
}

const pool = new StringPool(20_000);

interface Condition {
  type?: unknown;
  status?: unknown;
  reason?: unknown;
  message?: unknown;
  lastTransitionTime?: unknown;
}

/**
 * Makes an object from the API server fit for the cache, in place: drops what no controller
 * or portal page reads and that is often larger than the object itself (managedFields, the
 * last-applied-configuration annotation), and shares repeated strings. The status write sends
 * only `status` through the status subresource and nothing writes a whole cached object back,
 * so nothing dropped here can be lost on the server.
 */
export function slimObject<T extends KubernetesObject>(object: T): T {
  const meta = object.metadata;
  if (meta) {
    if (meta.managedFields) delete meta.managedFields;
    if (meta.annotations && LAST_APPLIED in meta.annotations) {
      const rest = Object.fromEntries(
        Object.entries(meta.annotations).filter(([key]) => key !== LAST_APPLIED),
      );
      if (Object.keys(rest).length === 0) delete meta.annotations;
      else meta.annotations = rest;
    }
    if (typeof meta.creationTimestamp === "string")
      (meta as unknown as { creationTimestamp: string }).creationTimestamp = pool.intern(
        meta.creationTimestamp,
      );
  }
  if (object.apiVersion) object.apiVersion = pool.intern(object.apiVersion);
  if (object.kind) object.kind = pool.intern(object.kind);
  const conditions = (object as { status?: { conditions?: unknown } }).status?.conditions;
  if (Array.isArray(conditions)) {
    for (const c of conditions as Condition[]) {
      if (typeof c !== "object") continue;
      for (const field of ["type", "status", "reason", "message", "lastTransitionTime"] as const) {
        const value = c[field];
        if (typeof value === "string") c[field] = pool.intern(value);
      }
    }
  }
  return object;
}
