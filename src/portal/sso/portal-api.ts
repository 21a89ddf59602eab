import type { FastifyInstance, FastifyRequest } from "fastify";
import type { User } from "../../api/v1alpha1/index.ts";
import type { SsoContext } from "./context.ts";
import { SsoApiError } from "./errors.ts";
import { revokeGrant } from "./grants.ts";
import { invalidSession, liveGrant } from "./oidc.ts";
import { open } from "./tokens.ts";
import { jsonApi } from "./json-api.ts";
import { RecentGrants } from "./recent-grants.ts";

type Query = Record<string, string | undefined>;

const invalid = (message: string) => SsoApiError.portal("InvalidRequestException", message);

/** `max_result` (1..100, default 100) and `next_token` (an offset we handed out) of a list call. */
export function page<T>(items: readonly T[], query: Query): { items: T[]; nextToken?: string } {
  const max = query.max_result === undefined ? 100 : Number(query.max_result);
  if (!Number.isInteger(max) || max < 1 || max > 100)
    throw invalid("max_result must be between 1 and 100");
  let start = 0;
  if (query.next_token !== undefined) {
    const decoded = /^o(\d{1,7})$/.exec(Buffer.from(query.next_token, "base64url").toString());
    if (!decoded) throw invalid("Invalid next_token");
    start = Number(decoded[1]);
  }
  const end = start + max;
  return {
    items: items.slice(start, end),
    ...(end < items.length ? { nextToken: Buffer.from(`o${end}`).toString("base64url") } : {}),
  };
}

const ACCOUNT_ID = /^\d{12}$/;

/** The SSO portal API (`sso`, rest-json): what `GetRoleCredentials` and friends call. */
export function portalApi(ctx: SsoContext) {
  const recentGrants = new RecentGrants();

  /**
   * The bearer token's user and grant. The user is checked on every call (a deactivation ends
   * the token at once); the grant against the credential record at most once a second per
   * token and replica (ADR 0020), at once after a logout through this replica.
   */
  async function caller(
    req: FastifyRequest,
  ): Promise<{ user: User; grantId: string; approvedAt: number }> {
    const header = req.headers["x-amz-sso_bearer_token"];
    const token = typeof header === "string" ? open("access", header, ctx.tokenKey) : undefined;
    const now = ctx.now().getTime();
    if (!token || token.expiresAt <= now) throw invalidSession();
    const user = ctx.activeUser(token.userName);
    if (!user) {
      // liveGrant ends an inactive user's CLI sign-ins for good.
      await liveGrant(ctx, token);
      recentGrants.forget(token.userName);
      throw invalidSession();
    }
    const grant = await recentGrants.check(
      token,
      now,
      async () => (await liveGrant(ctx, token))?.grant,
    );
    if (!grant) throw invalidSession();
    return { user, grantId: grant.id, approvedAt: grant.createdAt };
  }

  return (app: FastifyInstance) => {
    jsonApi(app, "portal", ctx.log);

    app.get("/assignment/accounts", async (req) => {
      const { user } = await caller(req);
      const accounts = ctx.accessOf(user).map((a) => ({
        accountId: a.accountId,
        accountName: a.displayName,
        ...(a.email ? { emailAddress: a.email } : {}),
      }));
      const { items, nextToken } = page(accounts, req.query as Query);
      return { accountList: items, ...(nextToken ? { nextToken } : {}) };
    });

    app.get("/assignment/roles", async (req) => {
      const { user } = await caller(req);
      const query = req.query as Query;
      if (!ACCOUNT_ID.test(query.account_id ?? "")) throw invalid("account_id is required");
      const roles = ctx
        .accessIn(user, query.account_id ?? "")
        .flatMap((a) => a.roles.map((r) => ({ roleName: r.name, accountId: a.accountId })));
      const { items, nextToken } = page(roles, query);
      return { roleList: items, ...(nextToken ? { nextToken } : {}) };
    });

    app.get("/federation/credentials", async (req) => {
      const { user, approvedAt } = await caller(req);
      const query = req.query as Query;
      if (!ACCOUNT_ID.test(query.account_id ?? "")) throw invalid("account_id is required");
      if (!query.role_name) throw invalid("role_name is required");
      // The same rules as the portal's own pages: assigned, provisioned, account not deleted.
      const role = ctx
        .accessIn(user, query.account_id ?? "")
        .flatMap((a) => a.roles)
        .find((r) => r.name === query.role_name);
      if (!role) throw SsoApiError.portal("ForbiddenException", "No access");
      const c = await ctx.roleCredentials(user, role, approvedAt);
      ctx.log.info(
        { audit: true, sso: "GetRoleCredentials", user: user.spec.userName, role: role.roleArn },
        "role credentials",
      );
      return {
        roleCredentials: {
          accessKeyId: c.accessKeyId,
          secretAccessKey: c.secretAccessKey,
          sessionToken: c.sessionToken,
          expiration: c.expiration.getTime(),
        },
      };
    });

    app.post("/logout", async (req, reply) => {
      const { user, grantId } = await caller(req);
      await ctx.credentials.update(user.spec.userName, (r) => revokeGrant(r, grantId));
      recentGrants.forget(user.spec.userName);
      ctx.log.info({ audit: true, sso: "Logout", user: user.spec.userName }, "SSO logout");
      return reply.code(200).send();
    });
    return Promise.resolve();
  };
}
