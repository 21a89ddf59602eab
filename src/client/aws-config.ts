/**
 * The shared AWS config file (`~/.aws/config`), edited section by section: sections we do not
 * write keep their text, comments and order exactly as they were.
 */
export interface ConfigSection {
  /** `profile prod`, `sso-session idc`, `services idc`, `default`. */
  name: string;
  /** The raw lines after the header, up to the next section. */
  lines: string[];
}

export interface AwsConfig {
  /** Lines before the first section (comments). */
  preamble: string[];
  sections: ConfigSection[];
}

const HEADER = /^\s*\[\s*([^\]]+?)\s*\]\s*$/;

export function parseConfig(text: string): AwsConfig {
  const config: AwsConfig = { preamble: [], sections: [] };
  let current: ConfigSection | undefined;
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  for (const line of lines) {
    const header = HEADER.exec(line);
    if (header) {
      current = { name: (header[1] ?? "").replace(/\s+/g, " "), lines: [] };
      config.sections.push(current);
    } else if (current) current.lines.push(line);
    else config.preamble.push(line);
  }
  return config;
}

export function serializeConfig(config: AwsConfig): string {
  const out = [...config.preamble];
  for (const s of config.sections) out.push(`[${s.name}]`, ...s.lines);
  return `${out.join("\n")}\n`;
}

/** The top-level `key = value` pairs of a section (nested `services` keys are skipped). */
export function sectionValues(section: ConfigSection): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of section.lines) {
    const m = /^([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m?.[1] && !/^\s/.test(line)) values[m[1]] = m[2] ?? "";
  }
  return values;
}

export function findSection(config: AwsConfig, name: string): ConfigSection | undefined {
  return config.sections.find((s) => s.name === name);
}

export const profileSection = (profile: string) =>
  profile === "default" ? "default" : `profile ${profile}`;

/** Lines of a section from an ordered list of keys (a blank line separates sections). */
export function sectionLines(values: readonly (readonly [string, string])[]): string[] {
  return [...values.map(([k, v]) => `${k} = ${v}`), ""];
}

/** Replaces the section's body, or appends the section at the end. */
export function putSection(config: AwsConfig, name: string, lines: string[]): AwsConfig {
  const index = config.sections.findIndex((s) => s.name === name);
  const sections = [...config.sections];
  if (index >= 0) sections[index] = { name, lines };
  else {
    const last = sections.at(-1);
    // Keep one blank line between the old last section and the new one.
    if (last && last.lines.at(-1)?.trim() !== "")
      sections[sections.length - 1] = { ...last, lines: [...last.lines, ""] };
    sections.push({ name, lines });
  }
  return { ...config, sections };
}

export function removeSection(config: AwsConfig, name: string): AwsConfig {
  return { ...config, sections: config.sections.filter((s) => s.name !== name) };
}

/** A `[services NAME]` section pointing the two SSO clients at the portal. */
export function servicesLines(endpoints: { ssoOidc: string; ssoPortal: string }): string[] {
  return [
    "sso =",
    `  endpoint_url = ${endpoints.ssoPortal}`,
    "sso_oidc =",
    `  endpoint_url = ${endpoints.ssoOidc}`,
    "",
  ];
}
