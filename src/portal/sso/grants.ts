import type { CredentialRecord, SsoGrant } from "../../identity/credentials.ts";

/** At most this many live CLI sign-ins per user; a new one pushes the oldest out. */
export const MAX_GRANTS = 32;

/** Drops the grants that have expired by `now`. */
export function liveGrants(record: CredentialRecord, now: number): SsoGrant[] {
  return (record.ssoGrants ?? []).filter((g) => g.expiresAt > now);
}

export function addGrant(record: CredentialRecord, grant: SsoGrant, now: number): CredentialRecord {
  const kept = liveGrants(record, now)
    .sort((a, b) => a.createdAt - b.createdAt)
    .slice(-(MAX_GRANTS - 1));
  return { ...record, ssoGrants: [...kept, grant] };
}

/** The grant a token names, if it is still live and was issued to that client. */
export function findGrant(
  record: CredentialRecord,
  token: { grantId: string; clientId: string },
  now: number,
): SsoGrant | undefined {
  return liveGrants(record, now).find(
    (g) => g.id === token.grantId && g.clientId === token.clientId,
  );
}

/** Marks an authorization code's grant as redeemed; it is single use. */
export function redeemGrant(record: CredentialRecord, grantId: string): CredentialRecord {
  return {
    ...record,
    ssoGrants: (record.ssoGrants ?? []).map((g) =>
      g.id === grantId ? { ...g, redeemed: true } : g,
    ),
  };
}

/** Logout: the grant and every token issued from it end. */
export function revokeGrant(record: CredentialRecord, grantId: string): CredentialRecord {
  return { ...record, ssoGrants: (record.ssoGrants ?? []).filter((g) => g.id !== grantId) };
}
