// Building blocks for the v1alpha1 schemas. Each helper returns a TypeBox schema, which is both
// the OpenAPI v3 structural schema the CRD publishes and, through `Static`, the TypeScript type
// the controllers use: one source of truth for both.
import Type, { type TSchema, type TUnsafe } from "typebox";

export const GROUP = "identitycenter.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;

/** A CEL rule with the message the API server returns when it fails. */
export interface ValidationRule {
  rule: string;
  message: string;
  /** JSON path (relative) the error is reported on, for example `.accounts`. */
  fieldPath?: string;
  reason?:
    "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
}

export function rules(...list: ValidationRule[]): { "x-kubernetes-validations": ValidationRule[] } {
  return { "x-kubernetes-validations": list };
}

/** A string enum, rendered as `enum` (CRDs do not support `const`/`anyOf` of literals). */
export function enumOf<const T extends readonly string[]>(
  values: T,
  description: string,
  options: { default?: T[number] } = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: "string", enum: [...values], description, ...options });
}

/** A map of strings (`additionalProperties`), for labels-like data such as tags and attributes. */
export function stringMap(
  description: string,
  options: { maxProperties?: number; maxValueLength?: number; keyRule?: ValidationRule } = {},
): TUnsafe<Record<string, string>> {
  return Type.Unsafe<Record<string, string>>({
    type: "object",
    description,
    additionalProperties: {
      type: "string",
      ...(options.maxValueLength === undefined ? {} : { maxLength: options.maxValueLength }),
    },
    ...(options.maxProperties === undefined ? {} : { maxProperties: options.maxProperties }),
    ...(options.keyRule ? rules(options.keyRule) : {}),
  });
}

/**
 * An ISO-8601 time duration of hours, minutes and seconds (`PT1H`, `PT90M`, `PT2H30M`), bounded
 * by a CEL rule. CEL's duration() reads Go syntax, so the rule turns `PT2H30M` into `2h30m`.
 */
export function isoDuration(
  description: string,
  bounds: { min: string; max: string; default: string },
): TUnsafe<string> {
  const pattern = "^PT([0-9]+H)?([0-9]+M)?([0-9]+S)?$";
  const asGo = "duration(self.substring(2).lowerAscii())";
  const goMin = bounds.min.substring(2).toLowerCase();
  const goMax = bounds.max.substring(2).toLowerCase();
  return Type.Unsafe<string>({
    type: "string",
    description: `${description} ISO-8601, between ${bounds.min} and ${bounds.max}.`,
    default: bounds.default,
    minLength: 3,
    maxLength: 16,
    pattern,
    ...rules({
      rule: `!self.matches('${pattern}') || (${asGo} >= duration('${goMin}') && ${asGo} <= duration('${goMax}'))`,
      message: `must be between ${bounds.min} and ${bounds.max}`,
    }),
  });
}

export const NAME_PATTERN = "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$";

/** A reference to another object of ours by its metadata.name. */
export function objectName(description: string): TUnsafe<string> {
  return Type.Unsafe<string>({
    type: "string",
    description,
    minLength: 1,
    maxLength: 253,
    pattern: NAME_PATTERN,
  });
}

export const Principal = Type.Object(
  {
    kind: enumOf(["User", "Group"] as const, "Whether the principal is a User or a Group."),
    name: Type.String({
      description: "For a User, its spec.userName; for a Group, the Group object's name.",
      minLength: 1,
      maxLength: 253,
    }),
  },
  { description: "Who receives the access: a user or a group." },
);

export const Condition = Type.Object(
  {
    type: Type.String({ description: "Condition type, for example Ready.", maxLength: 316 }),
    status: enumOf(["True", "False", "Unknown"] as const, "Status of the condition."),
    reason: Type.String({
      description: "One CamelCase word that says why the condition has this status.",
      maxLength: 1024,
    }),
    message: Type.String({ description: "A human-readable explanation.", maxLength: 32768 }),
    observedGeneration: Type.Optional(
      Type.Integer({
        description: "The metadata.generation the condition was computed from.",
        minimum: 0,
      }),
    ),
    lastTransitionTime: Type.String({
      description: "When the condition last changed status.",
      format: "date-time",
    }),
  },
  { description: "An observation of one aspect of the object's state." },
);

/** What a reconcile decides about a condition; the time and generation are stamped on write. */
export interface ConditionInput {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/** The status fields every kind has, plus its own. */
export function statusOf<T extends Record<string, TSchema>>(description: string, own: T) {
  return Type.Object(
    {
      observedGeneration: Type.Optional(
        Type.Integer({ description: "The generation the controller last acted on.", minimum: 0 }),
      ),
      conditions: Type.Optional(
        Type.Array(Condition, {
          description: "Observations of the object's state; Ready summarises them.",
          "x-kubernetes-list-type": "map",
          "x-kubernetes-list-map-keys": ["type"],
        }),
      ),
      ...own,
    },
    { description },
  );
}

/** One row of `kubectl get` output. */
export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
  priority?: number;
}

export const readyColumns: PrinterColumn[] = [
  {
    name: "Ready",
    type: "string",
    jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    description: "Whether the object is Ready.",
  },
  {
    name: "Reason",
    type: "string",
    jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
    description: "Why the object is or is not Ready.",
    priority: 1,
  },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
];

/** The principal of an assignment kind, as kubectl columns. */
export const principalColumns: PrinterColumn[] = [
  {
    name: "Principal",
    type: "string",
    jsonPath: ".spec.principal.name",
    description: "User or group.",
  },
  {
    name: "Kind",
    type: "string",
    jsonPath: ".spec.principal.kind",
    description: "User or Group.",
    priority: 1,
  },
];

/** Everything the CRD generator needs to know about one kind. */
export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: TSchema;
  status: TSchema;
  columns: PrinterColumn[];
  /** Rules on the whole object, for checks that need metadata (for example metadata.name). */
  rootRules?: ValidationRule[];
}
