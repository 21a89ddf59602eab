import type { V1Secret } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { cachedSessionsOf } from "./credential-sessions.ts";

const secretOf = (record: unknown, name = "idc-credentials-abc"): V1Secret => ({
  metadata: {
    name,
    namespace: "ns-credentials",
    resourceVersion: "42",
    labels: { "identitycenter.dev/credentials": "true" },
    managedFields: [{ manager: "idc-portal" }],
  },
  data: { "credentials.json": Buffer.from(JSON.stringify(record)).toString("base64") },
});

describe("the session cache's form of a credential Secret", () => {
  it("keeps whose record it is, the epoch and the sessions, and nothing secret (no hash, authenticator, setup link or grant)", () => {
    const cached = cachedSessionsOf(
      secretOf({
        userName: "alice",
        userUid: "uid-1",
        passwordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        totpSecret: "JBSWY3DPEHPK3PXP",
        totpLastStep: 7,
        failures: 2,
        sessionEpoch: 3,
        sessions: [{ id: "s1", expiresAt: 99 }],
        setup: { tokenHash: "ab", expiresAt: 1 },
        ssoGrants: [{ id: "g", clientId: "c", clientName: "n", createdAt: 0, expiresAt: 1 }],
      }),
    );
    expect(cached).toEqual({
      metadata: { name: "idc-credentials-abc", resourceVersion: "42" },
      record: { userUid: "uid-1", sessionEpoch: 3, sessions: [{ id: "s1", expiresAt: 99 }] },
    });
    expect(JSON.stringify(cached)).not.toMatch(/argon2|JBSWY3|tokenHash|clientId/);
  });

  it("holds no record for a Secret without one, or with one that does not parse (the check reads it instead)", () => {
    const broken: V1Secret = { ...secretOf({}), data: { "credentials.json": "bm90IGpzb24=" } };
    expect(cachedSessionsOf(broken).record).toBeUndefined();
    expect(cachedSessionsOf({ metadata: { name: "x" } }).record).toBeUndefined();
  });
});
