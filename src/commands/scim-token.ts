import { parseArgs } from "node:util";
import { loadKubeConfig } from "../adapters/k8s/kube-config.ts";
import { ScimTokenStore } from "../adapters/k8s/scim-tokens.ts";
import { TOKEN_NAME_PATTERN, expiryFrom, newScimToken } from "../plan/scim/tokens.ts";
import { namespaceOption } from "./flags.ts";

export const SCIM_TOKEN_HELP = `Usage: idc scim-token create NAME [--expires 1y]
       idc scim-token list
       idc scim-token revoke NAME
Flags: [--kubeconfig PATH] [--namespace NAME] [--instance NAME]

Bearer tokens for the SCIM endpoint (<portal URL>/scim/v2) that an identity provider (Entra
ID, Okta) provisions users and groups through. create prints the token once: only its SHA-256
is stored, in the Secret identitycenter-<instance>-scim-tokens of the operator namespace.
--expires takes 12h, 30d, 8w, 6m, 1y (the default) or never. revoke ends a token within
seconds on every portal replica.
`;

/** `idc scim-token create|list|revoke`. */
export async function runScimToken(argv: string[], out: (text: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      kubeconfig: { type: "string" },
      namespace: namespaceOption(),
      instance: { type: "string", default: "default" },
      expires: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [action, name] = positionals;
  const needsName = action === "create" || action === "revoke";
  if (
    values.help ||
    !action ||
    !["create", "list", "revoke"].includes(action) ||
    (needsName && !name)
  ) {
    out(SCIM_TOKEN_HELP);
    return values.help ? 0 : 2;
  }
  if (needsName && !TOKEN_NAME_PATTERN.test(name ?? "")) {
    out(
      `idc: a token name is 1-63 letters, digits, '.', '_' and '-', starting with a letter or digit\n`,
    );
    return 2;
  }
  const store = new ScimTokenStore(
    loadKubeConfig(values.kubeconfig),
    values.namespace,
    values.instance,
  );
  const now = new Date();
  if (action === "create") {
    const { token, record } = newScimToken(now, expiryFrom(now, values.expires));
    if (!(await store.add(name ?? "", record))) {
      out(`idc: a SCIM token named "${name ?? ""}" exists; revoke it first or pick another name\n`);
      return 1;
    }
    out(
      `${token}\n` +
        `# SCIM token "${name ?? ""}"${record.expiresAt ? `, expires ${record.expiresAt}` : ", never expires"}.\n` +
        `# It is shown only now: paste it into the identity provider as the bearer token.\n`,
    );
    return 0;
  }
  if (action === "list") {
    const records = await store.list();
    const names = Object.keys(records).sort();
    if (names.length === 0) {
      out("no SCIM tokens\n");
      return 0;
    }
    out("NAME\tCREATED\tEXPIRES\tSTATE\n");
    for (const n of names) {
      const r = records[n];
      if (!r) continue;
      const expired = r.expiresAt !== undefined && Date.parse(r.expiresAt) <= now.getTime();
      out(`${n}\t${r.createdAt}\t${r.expiresAt ?? "never"}\t${expired ? "expired" : "valid"}\n`);
    }
    return 0;
  }
  if (!(await store.revoke(name ?? ""))) {
    out(`idc: no SCIM token named "${name ?? ""}"\n`);
    return 1;
  }
  out(`revoked SCIM token "${name ?? ""}"\n`);
  return 0;
}
