import { readFile } from "node:fs/promises";
import tls from "node:tls";
import type { LevelWithSilent } from "pino";
import { defaultCredentialsNamespace } from "../plan/naming.ts";

/** Checked values of command-line flags; every error names the flag and what it got. */

/**
 * `--namespace`, shared by every command: the operator's namespace. A function, so the
 * environment is read when a command runs, not when this module is imported.
 */
export function namespaceOption() {
  return {
    type: "string",
    default: process.env.POD_NAMESPACE ?? "identity-center-operator",
  } as const;
}

/**
 * `--credentials-namespace`, shared by the controller, the portal and idc invite/reset: where
 * users' credential records live. Empty means `<namespace>-credentials`. A function, like
 * namespaceOption.
 */
export function credentialsNamespaceOption() {
  return { type: "string", default: process.env.IDC_CREDENTIALS_NAMESPACE ?? "" } as const;
}

/** The credentials namespace a command uses, from its two namespace flags. */
export function credentialsNamespace(values: {
  namespace: string;
  "credentials-namespace": string;
}): string {
  return values["credentials-namespace"] || defaultCredentialsNamespace(values.namespace);
}

/** HOST:PORT, or undefined for "off". */
export function parseHostPort(
  flag: string,
  value: string,
): { host: string; port: number } | undefined {
  if (value === "off") return undefined;
  const i = value.lastIndexOf(":");
  const port = Number(value.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${flag} must be HOST:PORT or "off", got "${value}"`);
  }
  return { host: value.slice(0, i) || "0.0.0.0", port };
}

export function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${flag} must be a positive integer, got "${value}"`);
  return n;
}

export function nonNegativeInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`${flag} must be a whole number (0 or more), got "${value}"`);
  return n;
}

export function bool(flag: string, value: string): boolean {
  if (value === "true") return true;
  if (value === "false") return false;
  throw new Error(`${flag} must be true or false, got "${value}"`);
}

/** "90s", "10m", "1h" -> milliseconds. */
export function parseDuration(flag: string, value: string): number {
  const m = /^(\d+)(ms|s|m|h)$/.exec(value);
  if (!m) throw new Error(`${flag} must be a duration such as 30s, 10m or 1h, got "${value}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
  return Number(m[1]) * unit;
}

const LEVELS: readonly string[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

export function logLevel(value: string): LevelWithSilent {
  if (!LEVELS.includes(value))
    throw new Error(`--log-level must be one of trace, debug, info, warn, error; got "${value}"`);
  return value as LevelWithSilent;
}

/**
 * Adds a private CA's certificates to those every TLS client of the process trusts (fetch
 * included), for an upstream identity provider behind one (the portal's OIDC calls, the
 * controller's read of SAML metadataUrl); the public CAs stay trusted.
 */
export async function trustUpstreamCa(file: string): Promise<void> {
  const pem = await readFile(file, "utf8");
  const extra = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!extra) throw new Error(`--upstream-ca-file ${file} holds no PEM certificate`);
  tls.setDefaultCACertificates([...tls.getCACertificates("default"), ...extra]);
}
