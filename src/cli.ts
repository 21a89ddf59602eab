#!/usr/bin/env node
import { CONTROLLER_HELP, runController } from "./commands/controller.ts";
import { INVITE_HELP, runInvite } from "./commands/invite.ts";
import { PORTAL_HELP, runPortal } from "./commands/portal.ts";
import { operatorVersion } from "./version.ts";

const USAGE = `Usage: idc <command> [flags]

Commands:
  controller  run the operator's controllers (see idc controller --help)
  portal      serve the access portal and SAML identity provider (see idc portal --help)
  invite      print a one-time setup link for a user
  reset       revoke a user's credentials and sessions, and print a new setup link
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
      return runController(rest, out);
    case "portal":
      return runPortal(rest, out);
    case "invite":
    case "reset":
      return runInvite(rest, out, command === "reset");
    case "help":
    case "--help":
    case "-h":
      out(
        rest[0] === "portal"
          ? PORTAL_HELP
          : rest[0] === "controller"
            ? CONTROLLER_HELP
            : rest[0] === "invite" || rest[0] === "reset"
              ? INVITE_HELP
              : USAGE,
      );
      return 0;
    default:
      out(`idc: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

if (import.meta.main) {
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
