/** An IAM policy document as IAM accepts it (parsed JSON). */
export interface PolicyDocument {
  Version?: string;
  Id?: string;
  Statement: unknown;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Fields whose value may be a string or a list with the same meaning. */
const SET_FIELDS = new Set(["Action", "NotAction", "Resource", "NotResource"]);

function sortedSet(value: Json): Json {
  const list = Array.isArray(value) ? value : [value];
  return [...new Set(list.map((v) => JSON.stringify(v)))].sort().map((s) => JSON.parse(s) as Json);
}

function canonicalPrincipal(value: Json): Json {
  if (value === "*" || typeof value !== "object" || value === null || Array.isArray(value))
    return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortedSet(value[k] ?? null)]),
  );
}

function canonicalCondition(value: Json): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  return Object.fromEntries<Json>(
    Object.keys(value)
      .sort()
      .map((operator) => {
        const block = value[operator];
        if (typeof block !== "object" || block === null || Array.isArray(block))
          return [operator, block ?? null];
        return [
          operator,
          Object.fromEntries(
            Object.keys(block)
              .sort()
              .map((k) => [k, sortedSet(block[k] ?? null)]),
          ),
        ];
      }),
  );
}

function canonicalStatement(statement: Json): Json {
  if (typeof statement !== "object" || statement === null || Array.isArray(statement))
    return statement;
  const out: Record<string, Json> = {};
  for (const key of Object.keys(statement).sort()) {
    const value = statement[key] ?? null;
    if (SET_FIELDS.has(key)) out[key] = sortedSet(value);
    else if (key === "Principal" || key === "NotPrincipal") out[key] = canonicalPrincipal(value);
    else if (key === "Condition") out[key] = canonicalCondition(value);
    else out[key] = value;
  }
  return out;
}

/**
 * A canonical form of a policy document, so that two documents IAM treats as the same compare
 * equal: statement order, a string versus a one-element list, key order, duplicate values,
 * and the URL-encoding IAM applies when it returns documents.
 */
export function canonicalPolicy(document: PolicyDocument | string): string {
  const parsed = (typeof document === "string" ? JSON.parse(decodePolicy(document)) : document) as {
    Version?: string;
    Id?: string;
    Statement?: Json;
  };
  const statements = Array.isArray(parsed.Statement)
    ? parsed.Statement
    : [parsed.Statement ?? null];
  const canonical = statements.map((s) => JSON.stringify(canonicalStatement(s))).sort();
  return JSON.stringify({
    Version: parsed.Version ?? "2008-10-17",
    ...(parsed.Id === undefined ? {} : { Id: parsed.Id }),
    Statement: canonical.map((s) => JSON.parse(s) as Json),
  });
}

/** IAM returns policy documents URL-encoded; a document may also arrive already decoded. */
export function decodePolicy(text: string): string {
  const trimmed = text.trim();
  return trimmed.startsWith("%7B") || trimmed.startsWith("%7b")
    ? decodeURIComponent(trimmed)
    : trimmed;
}

export function samePolicy(a: PolicyDocument | string, b: PolicyDocument | string): boolean {
  return canonicalPolicy(a) === canonicalPolicy(b);
}

const isStringOrStrings = (v: unknown): boolean =>
  typeof v === "string" ||
  (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string"));

/**
 * What IAM would refuse in the shape of an identity policy, found before any AWS call: each
 * statement has exactly one of Action/NotAction and of Resource/NotResource as a string or a
 * list of strings, no Principal (identity policies have none), and a Condition of blocks.
 * IAM checks more (action and ARN grammar); what it refuses is reported as IamRefused.
 */
export function malformedPolicyProblem(document: PolicyDocument): string | undefined {
  const statements: unknown[] = Array.isArray(document.Statement)
    ? document.Statement
    : [document.Statement];
  for (const [i, statement] of statements.entries()) {
    const at = `statement ${String(i + 1)}`;
    if (typeof statement !== "object" || statement === null || Array.isArray(statement))
      return `${at} is not an object`;
    const s = statement as Record<string, unknown>;
    if (s.Effect !== "Allow" && s.Effect !== "Deny") return `${at}: Effect must be Allow or Deny`;
    if ("Principal" in s || "NotPrincipal" in s)
      return `${at}: an identity policy has no Principal or NotPrincipal`;
    for (const [a, b] of [
      ["Action", "NotAction"],
      ["Resource", "NotResource"],
    ] as const) {
      const has = [a, b].filter((k) => k in s);
      if (has.length !== 1) return `${at}: set exactly one of ${a} or ${b}`;
      const key = has[0] ?? a;
      if (!isStringOrStrings(s[key])) return `${at}: ${key} must be a string or a list of strings`;
    }
    const condition = s.Condition;
    if (
      condition !== undefined &&
      (typeof condition !== "object" ||
        condition === null ||
        Array.isArray(condition) ||
        Object.values(condition).some(
          (b) => typeof b !== "object" || b === null || Array.isArray(b),
        ))
    )
      return `${at}: Condition must map operators to blocks of keys`;
  }
  return undefined;
}

/** IAM's limits on an inline role policy, checked before any AWS call. */
export function inlinePolicyProblem(
  document: PolicyDocument,
  maxBytes: number,
  maxChars: number,
): string | undefined {
  const text = JSON.stringify(document);
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > maxBytes)
    return `the inline policy is ${String(bytes)} bytes; the limit is ${String(maxBytes)}`;
  const chars = text.replace(/\s/g, "").length;
  if (chars > maxChars) {
    return `the inline policy has ${String(chars)} non-whitespace characters; the limit is ${String(maxChars)}`;
  }
  return undefined;
}
