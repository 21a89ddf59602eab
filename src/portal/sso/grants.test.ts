import { describe, expect, it } from "vitest";
import { newRecord, type SsoGrant } from "../../identity/credentials.ts";
import { addGrant, findGrant, MAX_GRANTS, redeemGrant, revokeGrant } from "./grants.ts";

const grant = (id: string, createdAt = 0, expiresAt = 10_000): SsoGrant => ({
  id,
  clientId: "client",
  clientName: "idc",
  createdAt,
  expiresAt,
});

describe("CLI sign-in grants in the credential record", () => {
  it("finds a live grant only for the client it was issued to", () => {
    const r = addGrant(newRecord("alice"), grant("g1"), 0);
    expect(findGrant(r, { grantId: "g1", clientId: "client" }, 1)).toBeDefined();
    expect(findGrant(r, { grantId: "g1", clientId: "other" }, 1)).toBeUndefined();
    expect(findGrant(r, { grantId: "g1", clientId: "client" }, 10_000)).toBeUndefined();
  });
  it("ends a grant on logout", () => {
    const r = revokeGrant(addGrant(newRecord("alice"), grant("g1"), 0), "g1");
    expect(findGrant(r, { grantId: "g1", clientId: "client" }, 1)).toBeUndefined();
  });
  it("marks a redeemed authorization code", () => {
    const r = redeemGrant(addGrant(newRecord("alice"), grant("g1"), 0), "g1");
    expect(r.ssoGrants?.[0]?.redeemed).toBe(true);
  });
  it("keeps at most MAX_GRANTS, dropping the oldest and the expired", () => {
    let r = addGrant(newRecord("alice"), grant("old", 0, 5), 0);
    for (let i = 0; i < MAX_GRANTS + 3; i++) r = addGrant(r, grant(`g${String(i)}`, i + 1), 6);
    expect(r.ssoGrants).toHaveLength(MAX_GRANTS);
    expect(r.ssoGrants?.some((g) => g.id === "old" || g.id === "g0")).toBe(false);
    expect(r.ssoGrants?.at(-1)?.id).toBe(`g${String(MAX_GRANTS + 2)}`);
  });
});
