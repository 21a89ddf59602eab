import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./cli.ts";
import { parseHostPort } from "./commands/flags.ts";

async function capture(argv: string[]): Promise<{ code: number; text: string }> {
  let text = "";
  const code = await runCli(argv, (t) => (text += t));
  return { code, text };
}

describe("idc", () => {
  // cli.ts loads the server commands when they run; loading them is not what these tests time.
  beforeAll(async () => {
    await Promise.all([
      import("./commands/controller.ts"),
      import("./commands/portal.ts"),
      import("./commands/invite.ts"),
    ]);
  }, 120_000);

  it.each([
    { argv: ["version"], code: 0, match: /^idc \d+\.\d+\.\d+ \(node 24\./ },
    { argv: ["--help"], code: 0, match: /^Usage: idc <command>/ },
    { argv: [], code: 0, match: /^Usage: idc <command>/ },
    { argv: ["frobnicate"], code: 2, match: /^idc: unknown command "frobnicate"/ },
    { argv: ["controller", "--help"], code: 0, match: /^Usage: idc controller \[flags\]/ },
    { argv: ["help", "controller"], code: 0, match: /--leader-elect BOOL/ },
    { argv: ["credentials", "--help"], code: 0, match: /credential_process JSON \(Version 1\)/ },
    { argv: ["help", "login"], code: 0, match: /^Usage: idc login/ },
  ])("$argv exits $code", async ({ argv, code, match }) => {
    const result = await capture(argv);
    expect(result.code).toBe(code);
    expect(result.text).toMatch(match);
  });
});

describe("parseHostPort", () => {
  it.each([
    { value: "0.0.0.0:8080", expected: { host: "0.0.0.0", port: 8080 } },
    { value: ":9090", expected: { host: "0.0.0.0", port: 9090 } },
    { value: "127.0.0.1:0", expected: { host: "127.0.0.1", port: 0 } },
    { value: "off", expected: undefined },
  ])("$value", ({ value, expected }) => {
    expect(parseHostPort("--health-addr", value)).toEqual(expected);
  });

  it.each(["8080", "host:port", "h:70000"])("refuses %s", (value) => {
    expect(() => parseHostPort("--health-addr", value)).toThrow(/HOST:PORT/);
  });
});
