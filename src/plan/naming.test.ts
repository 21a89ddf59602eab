import { describe, expect, it } from "vitest";
import { applicationSigningSecretName } from "./naming.ts";

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

describe("applicationSigningSecretName", () => {
  it("names the Secret after the Application", () => {
    expect(applicationSigningSecretName("wiki")).toBe("idc-application-signing-wiki");
  });

  it("keeps long names valid, within 253 characters and distinct", () => {
    const long = (tail: string) => `${"a".repeat(226)}.${tail}`;
    const names = [long("b"), long("c"), `${"x".repeat(252)}.`.slice(0, 253)].map(
      applicationSigningSecretName,
    );
    for (const name of names) {
      expect(name.length).toBeLessThanOrEqual(253);
      expect(name).toMatch(DNS_SUBDOMAIN);
    }
    expect(new Set(names).size).toBe(names.length);
  });
});
