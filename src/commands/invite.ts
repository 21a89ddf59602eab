import { parseArgs } from "node:util";
import type { IdentityCenter, User } from "../api/v1alpha1/index.ts";
import { CredentialStore } from "../adapters/k8s/credential-store.ts";
import { CustomResourceClient } from "../adapters/k8s/custom-resources.ts";
import { loadKubeConfig } from "../adapters/k8s/kube-config.ts";
import { portalUrl } from "../plan/naming.ts";
import { issueSetupToken, resetRecord } from "../identity/credentials.ts";
import { credentialsNamespace, credentialsNamespaceOption, namespaceOption } from "./flags.ts";

export const INVITE_HELP = `Usage: idc invite <userName> [--kubeconfig PATH] [--namespace NAME]
                          [--credentials-namespace NAME]
       idc reset <userName>  [same flags]

invite prints a one-time setup link (valid 7 days) where the user sets a password and, when
the instance requires it, enrols an authenticator. Both revoke what the user had first: the
password, the authenticator, an earlier link and every session (an invite of a user who has
none of these revokes nothing).
`;

/** `idc invite` and `idc reset`: a setup link for a user of the identity store. */
export async function runInvite(argv: string[], out: (text: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      kubeconfig: { type: "string" },
      namespace: namespaceOption(),
      "credentials-namespace": credentialsNamespaceOption(),
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
  const holders = users.items.filter((u) => u.spec.userName === userName);
  const [user] = holders;
  if (!user) {
    out(`idc: no User with userName "${userName}"\n`);
    return 1;
  }
  if (holders.length > 1) {
    const names = holders.map((u) => u.metadata.name).join(", ");
    out(`idc: several Users have userName "${userName}" (${names}); make it unique first\n`);
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
  // The record is the User's (its uid), not the userName's: one left by an earlier User of
  // this userName is started afresh.
  const owner = { name: user.metadata.name, uid: user.metadata.uid ?? "" };
  const store = new CredentialStore(kubeConfig, credentialsNamespace(values), () => owner);
  let token = "";
  // An invite on an existing record revokes like a reset: whoever had the earlier link,
  // password or a session loses them, so a link sent to the wrong address can be taken back.
  await store.update(userName, (current) => {
    const issued = issueSetupToken(resetRecord(current), Date.now());
    token = issued.token;
    return issued.record;
  });
  const query = new URLSearchParams({ user: userName, token });
  out(`${portalUrl(instance)}/setup?${query.toString()}\n`);
  return 0;
}
