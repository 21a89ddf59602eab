import {
  profileSection,
  putSection,
  removeSection,
  sectionLines,
  sectionValues,
  type AwsConfig,
} from "./aws-config.ts";

/** The key that marks a profile as written by `idc configure` for one SSO session. */
export const MARKER = "idc_sso_session";

export interface RoleAccessEntry {
  accountId: string;
  accountName: string;
  roleName: string;
}

export interface ProfileOptions {
  session: string;
  region: string;
  /** The `[services NAME]` section with the portal's endpoints. */
  services: string;
  /** Write `credential_process` profiles (no sso_* keys) with this command instead. */
  credentialProcess?: string;
  prefix?: string;
}

const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "") || "account";

/**
 * Profile names: `<prefix><account name>.<role name>`, the account name in lower case with
 * dashes; accounts whose names collide get their id appended. Stable for the same access.
 */
export function profileNames(
  access: readonly RoleAccessEntry[],
  prefix = "",
): Map<string, RoleAccessEntry> {
  const slugs = new Map<string, Set<string>>();
  for (const a of access) {
    const s = slug(a.accountName);
    slugs.set(s, (slugs.get(s) ?? new Set()).add(a.accountId));
  }
  const names = new Map<string, RoleAccessEntry>();
  for (const a of [...access].sort(
    (x, y) => x.accountId.localeCompare(y.accountId) || x.roleName.localeCompare(y.roleName),
  )) {
    const s = slug(a.accountName);
    const account = (slugs.get(s)?.size ?? 0) > 1 ? `${s}-${a.accountId}` : s;
    names.set(`${prefix}${account}.${a.roleName}`, a);
  }
  return names;
}

const quote = (arg: string) =>
  /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;

function profileValues(entry: RoleAccessEntry, options: ProfileOptions): [string, string][] {
  const common: [string, string][] = [["region", options.region]];
  const body: [string, string][] = options.credentialProcess
    ? [
        [
          "credential_process",
          `${options.credentialProcess} credentials --sso-session ${quote(options.session)} --account ${entry.accountId} --role ${quote(entry.roleName)}`,
        ],
      ]
    : [
        ["sso_session", options.session],
        ["sso_account_id", entry.accountId],
        ["sso_role_name", entry.roleName],
        ["services", options.services],
      ];
  return [...body, ...common, [MARKER, options.session]];
}

export interface PopulateResult {
  config: AwsConfig;
  written: string[];
  removed: string[];
  /** Names taken by profiles this command did not write: left alone. */
  skipped: string[];
}

/**
 * Writes one profile per account and role, removes the profiles this command wrote earlier for
 * the same session whose access is gone, and never touches a profile without the marker.
 */
export function populateProfiles(
  config: AwsConfig,
  access: readonly RoleAccessEntry[],
  options: ProfileOptions,
): PopulateResult {
  const wanted = profileNames(access, options.prefix);
  let next = config;
  const result: Omit<PopulateResult, "config"> = { written: [], removed: [], skipped: [] };
  for (const section of config.sections) {
    if (!section.name.startsWith("profile ") && section.name !== "default") continue;
    const name = section.name === "default" ? "default" : section.name.slice("profile ".length);
    const ours = sectionValues(section)[MARKER] === options.session;
    if (!ours && wanted.has(name)) {
      result.skipped.push(name);
      wanted.delete(name);
    } else if (ours && !wanted.has(name)) {
      next = removeSection(next, section.name);
      result.removed.push(name);
    }
  }
  for (const [name, entry] of wanted) {
    next = putSection(next, profileSection(name), sectionLines(profileValues(entry, options)));
    result.written.push(name);
  }
  return { config: next, ...result };
}
