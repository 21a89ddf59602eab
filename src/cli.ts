#!/usr/bin/env node
import { operatorVersion } from "./version.ts";

const USAGE = `Usage: idc <command> [flags]

Commands:
  version     print the operator version
  help        show this help
`;

/** Entry point of the `idc` command; returns the process exit code. */
export function runCli(argv: string[], out: (text: string) => void): number {
  const [command = "help"] = argv;
  switch (command) {
    case "version":
    case "--version":
      out(`idc ${operatorVersion()} (node ${process.versions.node})\n`);
      return 0;
    case "help":
    case "--help":
    case "-h":
      out(USAGE);
      return 0;
    default:
      out(`idc: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

if (import.meta.main) {
  process.exitCode = runCli(process.argv.slice(2), (text) => process.stdout.write(text));
}
