import type { SsoGrant } from "../../identity/credentials.ts";

/**
 * How long a replica trusts a check that an access token's grant is live before it reads the
 * user's credential record again (ADR 0020). A CLI walks every account and role with one token,
 * hundreds of calls in a few seconds, and `credential_process` starts many at once: reading
 * the record for each of them was half of what a call cost.
 */
export const GRANT_CHECK_REUSE_MS = 1000;
const MAX_ENTRIES = 10_000;

interface Check {
  at: number;
  grant: Promise<SsoGrant | undefined>;
}

/**
 * Recent positive answers to "is this grant of this user live", per replica. Only a grant that
 * was found is reused, so a token whose grant is new (just approved, just refreshed) is always
 * checked against the record; a check under way is shared by the calls that arrive meanwhile.
 * A revocation made through this replica (logout, a deactivated user's grants cleared) drops
 * the user's entries at once; one made elsewhere (another replica's logout, `idc reset`) takes
 * effect here within GRANT_CHECK_REUSE_MS.
 */
export class RecentGrants {
  private readonly checks = new Map<string, Check>();
  private readonly reuseMs: number;

  constructor(reuseMs = GRANT_CHECK_REUSE_MS) {
    this.reuseMs = reuseMs;
  }

  async check(
    token: { userName: string; grantId: string; clientId: string },
    now: number,
    read: () => Promise<SsoGrant | undefined>,
  ): Promise<SsoGrant | undefined> {
    const key = JSON.stringify([token.userName, token.grantId, token.clientId]);
    const recent = this.checks.get(key);
    if (recent && now - recent.at < this.reuseMs && now >= recent.at) {
      const grant = await recent.grant;
      if (grant && grant.expiresAt > now) return grant;
    }
    const check: Check = { at: now, grant: read() };
    this.checks.delete(key);
    this.checks.set(key, check);
    // Oldest first in a Map: a burst of many users' tokens cannot grow it without bound.
    while (this.checks.size > MAX_ENTRIES) {
      const oldest = this.checks.keys().next().value;
      if (oldest === undefined) break;
      this.checks.delete(oldest);
    }
    try {
      const grant = await check.grant;
      if (!grant && this.checks.get(key) === check) this.checks.delete(key);
      return grant;
    } catch (err) {
      if (this.checks.get(key) === check) this.checks.delete(key);
      throw err;
    }
  }

  /** Forgets every check of a user: their grants changed through this replica. */
  forget(userName: string): void {
    // Keys are JSON arrays that start with the userName: `["alice",`.
    const prefix = `${JSON.stringify([userName]).slice(0, -1)},`;
    for (const key of [...this.checks.keys()]) if (key.startsWith(prefix)) this.checks.delete(key);
  }
}
