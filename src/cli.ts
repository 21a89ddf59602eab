#!/usr/bin/env node
import {
  CONFIGURE_HELP,
  CREDENTIALS_HELP,
  LOGIN_HELP,
  LOGOUT_HELP,
  runConfigure,
  runCredentials,
  runLogin,
  runLogout,
} from "./commands/sso.ts";
import { enableCompileCache } from "node:module";
import { operatorVersion } from "./version.ts";

// The server commands are loaded when run: `idc credentials` runs for every SDK client that
// needs credentials, and must not load the Kubernetes and AWS clients it never uses.
const controller = () => import("./commands/controller.ts");
const portal = () => import("./commands/portal.ts");
const invite = () => import("./commands/invite.ts");
const scimToken = () => import("./commands/scim-token.ts");

const USAGE = `Usage: idc <command> [flags]

Commands:
  controller  run the operator's controllers (see idc controller --help)
  portal      serve the access portal and SAML identity provider (see idc portal --help)
  invite      print a one-time setup link for a user
  reset       revoke a user's credentials and sessions, and print a new setup link
  scim-token  create, list and revoke bearer tokens of the SCIM endpoint
  login       sign in to the portal from a terminal; the AWS SDKs and CLIs then use the session
  configure   write a profile for every account and role to ~/.aws/config
  credentials print credentials for a role (credential_process helper)
  logout      end the terminal's SSO session
  version     print the operator version
  help        show this help
`;

type Out = (text: string) => void;

/** Entry point of the `idc` command; resolves to the process exit code. */
export async function runCli(argv: string[], out: Out): Promise<number> {
  const [command = "help", ...rest] = argv;
  switch (command) {
    case "version":
    case "--version":
      out(`idc ${operatorVersion()} (node ${process.versions.node})\n`);
      return 0;
    case "controller":
      return (await controller()).runController(rest, out);
    case "portal":
      return (await portal()).runPortal(rest, out);
    case "invite":
    case "reset":
      return (await invite()).runInvite(rest, out);
    case "scim-token":
      return (await scimToken()).runScimToken(rest, out);
    case "login":
      return runLogin(rest, out);
    case "configure":
      return runConfigure(rest, out);
    case "credentials":
      return runCredentials(rest, out);
    case "logout":
      return runLogout(rest, out);
    case "help":
    case "--help":
    case "-h":
      out(
        {
          login: LOGIN_HELP,
          configure: CONFIGURE_HELP,
          credentials: CREDENTIALS_HELP,
          logout: LOGOUT_HELP,
        }[rest[0] ?? ""] ??
          (rest[0] === "portal"
            ? (await portal()).PORTAL_HELP
            : rest[0] === "controller"
              ? (await controller()).CONTROLLER_HELP
              : rest[0] === "invite" || rest[0] === "reset"
                ? (await invite()).INVITE_HELP
                : rest[0] === "scim-token"
                  ? (await scimToken()).SCIM_TOKEN_HELP
                  : USAGE),
      );
      return 0;
    default:
      out(`idc: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

if (import.meta.main) {
  // Most of a controller's start is compiling the Kubernetes client's ~900 modules (loaded
  // below, with the command). V8's code cache, kept in $NODE_COMPILE_CACHE or else the
  // temporary directory (and skipped when that is not writable), lets a restart after a crash
  // reuse what an earlier start compiled.
  enableCompileCache();
  runCli(process.argv.slice(2), (text) => process.stdout.write(text)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`idc: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 2;
    },
  );
}
