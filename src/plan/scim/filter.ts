/**
 * SCIM 2.0 filters (RFC 7644 3.4.2.2) and PATCH paths (3.5.2): a small recursive-descent parser
 * and an evaluator over SCIM JSON resources. Written here rather than taken from npm: the
 * filter packages on npm are unmaintained or parse the grammar loosely (no valuePath in PATCH
 * paths, no URN-prefixed attributes), and the grammar is small. See docs/adr/0017.
 */
import { ScimError } from "./errors.ts";

export type CompareOp = "eq" | "ne" | "co" | "sw" | "ew" | "gt" | "lt" | "ge" | "le";
export type Value = string | number | boolean | null;

/** An attribute path: the schema URN it names (undefined: the resource's core schema) + names. */
export interface AttrPath {
  schema?: string;
  /** Attribute then optional sub-attribute, as written (compared ignoring case). */
  names: string[];
}

export type Filter =
  | { op: "and" | "or"; left: Filter; right: Filter }
  | { op: "not"; filter: Filter }
  | { op: "pr"; path: AttrPath }
  | { op: CompareOp; path: AttrPath; value: Value }
  | { op: "valuePath"; path: AttrPath; filter: Filter };

/** A PATCH operation's target: `attr[.sub]`, `attr[filter]` or `attr[filter].sub`. */
export interface PatchPath {
  attr: AttrPath;
  filter?: Filter;
  subAttr?: string;
}

const COMPARE_OPS = new Set(["eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le"]);

type Token =
  | { kind: "word"; text: string }
  | { kind: "string"; value: string }
  | { kind: "punct"; text: "(" | ")" | "[" | "]" };

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input.charAt(i);
    if (/\s/.test(c)) {
      i++;
    } else if (c === "(" || c === ")" || c === "[" || c === "]") {
      tokens.push({ kind: "punct", text: c });
      i++;
    } else if (c === '"') {
      // A JSON string: the same escapes, so JSON.parse decodes it.
      let j = i + 1;
      while (j < input.length && input.charAt(j) !== '"') j += input.charAt(j) === "\\" ? 2 : 1;
      if (j >= input.length) throw invalidFilter(`unterminated string in "${input}"`);
      try {
        tokens.push({ kind: "string", value: JSON.parse(input.slice(i, j + 1)) as string });
      } catch {
        throw invalidFilter(`bad string ${input.slice(i, j + 1)}`);
      }
      i = j + 1;
    } else {
      const m = /^[A-Za-z0-9_:.$+-]+/.exec(input.slice(i));
      if (!m) throw invalidFilter(`unexpected "${c}" at ${String(i)} in "${input}"`);
      tokens.push({ kind: "word", text: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

function invalidFilter(detail: string): ScimError {
  return new ScimError(400, `invalid filter: ${detail}`, "invalidFilter");
}

/** Splits `urn:...:Schema:attr.sub` into its schema and names; `knownSchemas` are the URNs. */
export function parseAttrPath(text: string, knownSchemas: readonly string[]): AttrPath {
  let schema: string | undefined;
  let rest = text;
  if (/^urn:/i.test(text)) {
    const lower = text.toLowerCase();
    schema = [...knownSchemas]
      .sort((a, b) => b.length - a.length)
      .find((s) => lower === s.toLowerCase() || lower.startsWith(`${s.toLowerCase()}:`));
    if (!schema) throw new ScimError(400, `unknown schema in "${text}"`, "invalidPath");
    rest = text.slice(schema.length + 1);
  }
  const names = rest === "" ? [] : rest.split(".");
  if (names.some((n) => !/^\$?[A-Za-z][A-Za-z0-9_-]*$/.test(n)))
    throw new ScimError(400, `"${text}" is not an attribute path`, "invalidPath");
  return { ...(schema ? { schema } : {}), names };
}

class Parser {
  private pos = 0;
  private readonly tokens: Token[];
  private readonly schemas: readonly string[];

  constructor(tokens: Token[], schemas: readonly string[]) {
    this.tokens = tokens;
    this.schemas = schemas;
  }

  done(): boolean {
    return this.pos >= this.tokens.length;
  }

  peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private next(): Token {
    const t = this.tokens[this.pos++];
    if (!t) throw invalidFilter("unexpected end");
    return t;
  }

  private keyword(word: string): boolean {
    const t = this.peek();
    if (t?.kind === "word" && t.text.toLowerCase() === word) {
      this.pos++;
      return true;
    }
    return false;
  }

  expect(text: string): void {
    const t = this.next();
    if (t.kind !== "punct" || t.text !== text) throw invalidFilter(`expected "${text}"`);
  }

  /** FILTER: or-expressions of and-expressions of factors (not binds tightest). */
  filter(): Filter {
    let left = this.conjunction();
    while (this.keyword("or")) left = { op: "or", left, right: this.conjunction() };
    return left;
  }

  private conjunction(): Filter {
    let left = this.factor();
    while (this.keyword("and")) left = { op: "and", left, right: this.factor() };
    return left;
  }

  private factor(): Filter {
    const t = this.peek();
    if (t?.kind === "punct" && t.text === "(") {
      this.pos++;
      const inner = this.filter();
      this.expect(")");
      return inner;
    }
    if (t?.kind === "word" && t.text.toLowerCase() === "not") {
      const after = this.tokens[this.pos + 1];
      if (after?.kind === "punct" && after.text === "(") {
        this.pos += 2;
        const inner = this.filter();
        this.expect(")");
        return { op: "not", filter: inner };
      }
    }
    return this.attrExp();
  }

  attrPath(): AttrPath {
    const t = this.next();
    if (t.kind !== "word") throw invalidFilter("expected an attribute name");
    return parseAttrPath(t.text, this.schemas);
  }

  private attrExp(): Filter {
    const path = this.attrPath();
    const t = this.peek();
    if (t?.kind === "punct" && t.text === "[") {
      this.pos++;
      const inner = this.filter();
      this.expect("]");
      return { op: "valuePath", path, filter: inner };
    }
    const opToken = this.next();
    const op = opToken.kind === "word" ? opToken.text.toLowerCase() : "";
    if (op === "pr") return { op: "pr", path };
    if (!COMPARE_OPS.has(op)) throw invalidFilter(`unknown operator after ${path.names.join(".")}`);
    return { op: op as CompareOp, path, value: this.compValue() };
  }

  private compValue(): Value {
    const t = this.next();
    if (t.kind === "string") return t.value;
    if (t.kind === "word") {
      const w = t.text.toLowerCase();
      if (w === "true") return true;
      if (w === "false") return false;
      if (w === "null") return null;
      if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(t.text)) return Number(t.text);
    }
    throw invalidFilter("expected a value (a string, number, true, false or null)");
  }
}

export function parseFilter(input: string, schemas: readonly string[]): Filter {
  const parser = new Parser(tokenize(input), schemas);
  const filter = parser.filter();
  if (!parser.done()) throw invalidFilter(`unexpected text after the filter in "${input}"`);
  return filter;
}

/** A PATCH `path` (RFC 7644 3.5.2): errors are `invalidPath`. */
export function parsePatchPath(input: string, schemas: readonly string[]): PatchPath {
  const bracket = input.indexOf("[");
  if (bracket < 0) return { attr: parseAttrPath(input.trim(), schemas) };
  const close = input.lastIndexOf("]");
  if (close < bracket) throw new ScimError(400, `unbalanced "[" in "${input}"`, "invalidPath");
  const attr = parseAttrPath(input.slice(0, bracket).trim(), schemas);
  let filter: Filter;
  try {
    filter = parseFilter(input.slice(bracket + 1, close), schemas);
  } catch (err) {
    if (err instanceof ScimError) throw new ScimError(400, err.detail, "invalidPath");
    throw err;
  }
  const tail = input.slice(close + 1).trim();
  if (tail !== "" && !/^\.[A-Za-z$][A-Za-z0-9_$-]*$/.test(tail))
    throw new ScimError(400, `"${input}" is not a PATCH path`, "invalidPath");
  return { attr, filter, ...(tail ? { subAttr: tail.slice(1) } : {}) };
}

/** A key of `obj` equal to `name` ignoring case (SCIM attribute names are case-insensitive). */
export function findKey(obj: object, name: string): string | undefined {
  const lower = name.toLowerCase();
  return Object.keys(obj).find((k) => k.toLowerCase() === lower);
}

type Json = Record<string, unknown>;

/** Where a path's attributes start: the resource itself, or its extension object. */
function scope(resource: Json, path: AttrPath, coreSchema: string): unknown {
  if (!path.schema || path.schema.toLowerCase() === coreSchema.toLowerCase()) return resource;
  const key = findKey(resource, path.schema);
  return key ? resource[key] : undefined;
}

/** Every value an attribute path reaches, multi-valued attributes flattened. */
function valuesAt(node: unknown, names: string[]): unknown[] {
  if (Array.isArray(node)) return node.flatMap((n) => valuesAt(n, names));
  if (names.length === 0) return node === undefined || node === null ? [] : [node];
  if (typeof node !== "object" || node === null) return [];
  const [first, ...rest] = names as [string, ...string[]];
  const key = findKey(node, first);
  return key ? valuesAt((node as Json)[key], rest) : [];
}

/** Attributes compared exactly (RFC 7643: id, externalId, references); the rest ignore case. */
const CASE_EXACT = new Set(["id", "externalid", "$ref"]);

function compare(op: CompareOp, actual: unknown, expected: Value, caseExact: boolean): boolean {
  if (typeof actual === "object" && actual !== null && "value" in actual)
    return compare(op, (actual as Json).value, expected, caseExact);
  if (expected === null) return op === "ne" ? actual !== null : actual === null;
  if (typeof actual === "boolean" || typeof expected === "boolean") {
    if (op === "eq") return actual === expected;
    if (op === "ne") return actual !== expected;
    return false;
  }
  if (typeof actual === "number" && typeof expected === "number") {
    return (
      {
        eq: actual === expected,
        ne: actual !== expected,
        gt: actual > expected,
        lt: actual < expected,
        ge: actual >= expected,
        le: actual <= expected,
        co: false,
        sw: false,
        ew: false,
      } satisfies Record<CompareOp, boolean>
    )[op];
  }
  if (typeof actual !== "string") return false;
  const a = caseExact ? actual : actual.toLowerCase();
  const e = caseExact ? String(expected) : String(expected).toLowerCase();
  return (
    {
      eq: a === e,
      ne: a !== e,
      co: a.includes(e),
      sw: a.startsWith(e),
      ew: a.endsWith(e),
      gt: a > e,
      lt: a < e,
      ge: a >= e,
      le: a <= e,
    } satisfies Record<CompareOp, boolean>
  )[op];
}

/**
 * Whether a resource (SCIM JSON, with extension objects under their schema URN) matches. Strings
 * compare ignoring case but for id, externalId and references (caseExact in RFC 7643); a
 * multi-valued attribute matches when any of its values does.
 */
export function matches(resource: Json, filter: Filter, coreSchema: string): boolean {
  switch (filter.op) {
    case "and":
      return (
        matches(resource, filter.left, coreSchema) && matches(resource, filter.right, coreSchema)
      );
    case "or":
      return (
        matches(resource, filter.left, coreSchema) || matches(resource, filter.right, coreSchema)
      );
    case "not":
      return !matches(resource, filter.filter, coreSchema);
    case "pr":
      return valuesAt(scope(resource, filter.path, coreSchema), filter.path.names).some(
        (v) => v !== "" && !(Array.isArray(v) && v.length === 0),
      );
    case "valuePath": {
      const items = valuesAt(scope(resource, filter.path, coreSchema), filter.path.names);
      return items.some(
        (item) =>
          typeof item === "object" &&
          item !== null &&
          matches(item as Json, filter.filter, coreSchema),
      );
    }
    default: {
      const { path, value } = filter;
      const last = (path.names.at(-1) ?? "").toLowerCase();
      const exact = CASE_EXACT.has(last);
      const values = valuesAt(scope(resource, path, coreSchema), path.names);
      if (filter.op === "ne") return values.every((v) => compare("ne", v, value, exact));
      return values.some((v) => compare(filter.op, v, value, exact));
    }
  }
}

/**
 * The single `attr eq "value"` a filter requires of every match, if it has one (the filters
 * provisioning clients send: `userName eq "x"`, `externalId eq "y"`), so a lookup can use an
 * index instead of scanning every resource.
 */
export function requiredEquality(filter: Filter): { attr: string; value: string } | undefined {
  if (filter.op === "eq" && typeof filter.value === "string" && filter.path.names.length === 1)
    return { attr: (filter.path.names[0] ?? "").toLowerCase(), value: filter.value };
  if (filter.op === "and") return requiredEquality(filter.left) ?? requiredEquality(filter.right);
  return undefined;
}
