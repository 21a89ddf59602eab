import { describe, expect, it } from "vitest";
import { runCli } from "./cli.ts";

function capture(argv: string[]): { code: number; text: string } {
  let text = "";
  const code = runCli(argv, (t) => (text += t));
  return { code, text };
}

describe("idc", () => {
  it.each([
    { argv: ["version"], code: 0, match: /^idc \d+\.\d+\.\d+ \(node 24\./ },
    { argv: ["--help"], code: 0, match: /^Usage: idc <command>/ },
    { argv: [], code: 0, match: /^Usage: idc <command>/ },
    { argv: ["frobnicate"], code: 2, match: /^idc: unknown command "frobnicate"/ },
  ])("$argv exits $code", ({ argv, code, match }) => {
    const result = capture(argv);
    expect(result.code).toBe(code);
    expect(result.text).toMatch(match);
  });
});
