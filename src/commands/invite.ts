import { parseArgs } from "node:util";
import type { IdentityCenter, User } from "../api/v1alpha1/index.ts";
import { CredentialStore } from "../adapters/k8s/credential-store.ts";
import { CustomResourceClient } from "../adapters/k8s/custom-resources.ts";
import { loadKubeConfig } from "../adapters/k8s/kube-config.ts";
import { portalUrl } from "../plan/naming.ts";
import { issueSetupToken, resetRecord } from "../identity/credentials.ts";
import { namespaceOption } from "./flags.ts";

export const INVITE_HELP = `Usage: idc invite <userName> [--kubeconfig PATH] [--namespace NAME]
       idc reset <userName>  [--kubeconfig PATH] [--namespace NAME]

invite prints a one-time setup link (valid 7 days) where the user sets a password and, when
the instance requires it, enrols an authenticator. reset also revokes the user's password,
authenticator and every session first.
`;

/** `idc invite` and `idc reset`: a setup link for a user of the identity store. */
export async function runInvite(
  argv: string[],
  out: (text: string) => void,
  reset: boolean,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      kubeconfig: { type: "string" },
      namespace: namespaceOption(),
      help: { type: "boolean", short: "h" },
    },
  });
  const userName = positionals[0];
  if (values.help || !userName) {
    out(INVITE_HELP);
    return values.help ? 0 : 2;
  }
  const kubeConfig = loadKubeConfig(values.kubeconfig);
  const users = await new CustomResourceClient<User>(kubeConfig, "User").list();
  if (!users.items.some((u) => u.spec.userName === userName)) {
    out(`idc: no User with userName "${userName}"\n`);
    return 1;
  }
  const instances = await new CustomResourceClient<IdentityCenter>(
    kubeConfig,
    "IdentityCenter",
  ).list();
  const instance = instances.items.find((i) => i.metadata.name === "default") ?? instances.items[0];
  if (!instance) {
    out("idc: no IdentityCenter exists yet; create one first\n");
    return 1;
  }
  const store = new CredentialStore(kubeConfig, values.namespace);
  let token = "";
  await store.update(userName, (current) => {
    const issued = issueSetupToken(reset ? resetRecord(current) : current, Date.now());
    token = issued.token;
    return issued.record;
  });
  const query = new URLSearchParams({ user: userName, token });
  out(`${portalUrl(instance)}/setup?${query.toString()}\n`);
  return 0;
}
