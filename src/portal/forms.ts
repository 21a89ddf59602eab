/** A parsed urlencoded form or query string: each field a string, or missing. */
export type Form = Record<string, string | undefined>;
