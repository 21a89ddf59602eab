import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { User } from "../../api/v1alpha1/index.ts";
import type { SsoGrant } from "../../identity/credentials.ts";
import {
  ACCESS_TOKEN_SECONDS,
  ACCOUNT_ACCESS_SCOPE,
  DEVICE_CODE_SECONDS,
  DEVICE_GRANT,
  grantLifetimeMs,
  POLL_INTERVAL_SECONDS,
  REGISTRATION_SECONDS,
  type SsoContext,
} from "./context.ts";
import { findApproval, recordPoll, redeemApproval } from "./device-approvals.ts";
import { SsoApiError } from "./errors.ts";
import { addGrant, findGrant, redeemGrant } from "./grants.ts";
import { verifierMatches } from "./pkce.ts";
import { newId, newUserCode, open, seal, type SealedKinds } from "./tokens.ts";
import { jsonApi } from "./json-api.ts";

type Body = Record<string, unknown>;

const oidcError = (...args: Parameters<typeof SsoApiError.oidc>) => SsoApiError.oidc(...args);

function str(body: Body, name: string, required = false): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) {
    if (required) throw oidcError("InvalidRequestException", `${name} is required`);
    return undefined;
  }
  if (typeof value !== "string" || value.length > 8192)
    throw oidcError("InvalidRequestException", `${name} must be a string`);
  return value;
}

function strings(body: Body, name: string): string[] {
  const value = body[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > 50 || value.some((v) => typeof v !== "string"))
    throw oidcError("InvalidRequestException", `${name} must be a list of strings`);
  return value as string[];
}

/** Loopback redirect URIs match whatever port the client listens on (RFC 8252 §7.3). */
export function redirectUriAllowed(registered: readonly string[], requested: string): boolean {
  if (!URL.canParse(requested)) return false;
  const want = new URL(requested);
  const loopback = ["127.0.0.1", "[::1]", "localhost"].includes(want.hostname);
  return registered.some((r) => {
    if (r === requested) return true;
    if (!loopback || !URL.canParse(r)) return false;
    const have = new URL(r);
    return (
      have.protocol === want.protocol &&
      have.hostname === want.hostname &&
      have.pathname === want.pathname &&
      want.protocol === "http:"
    );
  });
}

/** The registration behind a client id, if it is one of ours and has not expired. */
export function registration(ctx: SsoContext, clientId: string) {
  const client = open("clientId", clientId, ctx.tokenKey);
  return client && client.expiresAt > ctx.now().getTime() ? client : undefined;
}

function authenticateClient(ctx: SsoContext, body: Body) {
  const clientId = str(body, "clientId", true) ?? "";
  const secret = open("clientSecret", str(body, "clientSecret", true) ?? "", ctx.tokenKey);
  const client = registration(ctx, clientId);
  if (!client || client.id !== secret?.id)
    throw oidcError("InvalidClientException", "Invalid client credentials");
  return client;
}

export const invalidSession = () =>
  SsoApiError.portal("UnauthorizedException", "Session token not found or invalid");

/** Issues an access token (and a refresh token when the client may refresh) for a grant. */
function tokensFor(
  ctx: SsoContext,
  client: SealedKinds["clientId"],
  who: { user: User; grant: SsoGrant },
) {
  const now = ctx.now().getTime();
  const expiresAt = Math.min(now + ACCESS_TOKEN_SECONDS * 1000, who.grant.expiresAt);
  const claims = { clientId: client.id, userName: who.user.spec.userName, grantId: who.grant.id };
  const refresh =
    client.scopes.includes(ACCOUNT_ACCESS_SCOPE) || client.grantTypes.includes("refresh_token");
  return {
    accessToken: seal("access", { ...claims, expiresAt }, ctx.tokenKey),
    tokenType: "Bearer",
    expiresIn: Math.max(1, Math.floor((expiresAt - now) / 1000)),
    ...(refresh
      ? {
          refreshToken: seal(
            "refresh",
            { ...claims, expiresAt: who.grant.expiresAt },
            ctx.tokenKey,
          ),
        }
      : {}),
  };
}

/** The live grant of an active user that a token names; undefined when any of it is gone. */
export async function liveGrant(
  ctx: SsoContext,
  token: { userName: string; grantId: string; clientId: string },
): Promise<{ user: User; grant: SsoGrant } | undefined> {
  const user = ctx.activeUser(token.userName);
  const record = await ctx.credentials.get(token.userName);
  if (!user) {
    // Deactivated or removed: the user's CLI sign-ins end for good, not only while inactive.
    if (record?.ssoGrants?.length)
      await ctx.credentials.update(token.userName, (r) => ({ ...r, ssoGrants: [] }));
    return undefined;
  }
  const grant = record ? findGrant(record, token, ctx.now().getTime()) : undefined;
  return grant ? { user, grant } : undefined;
}

const invalidGrant = (what: string) => oidcError("InvalidGrantException", what);

async function deviceCodeGrant(
  ctx: SsoContext,
  input: { client: SealedKinds["clientId"]; body: Body },
) {
  const { client, body } = input;
  const device = open("device", str(body, "deviceCode", true) ?? "", ctx.tokenKey);
  if (device?.clientId !== client.id) throw invalidGrant("Invalid device code provided");
  const now = ctx.now().getTime();
  if (device.expiresAt <= now) throw oidcError("ExpiredTokenException", "Device code has expired");
  // The last answered poll is shared by the replicas (a conditional write of the approvals
  // document), so a client behind a load balancer is held to the interval across all of them.
  // A little slack for the client's timer and the network.
  let tooFast = false as boolean; // set by the update below
  const doc = await ctx.approvals.update((current) => {
    const polled = recordPoll(current, device.nonce, now, POLL_INTERVAL_SECONDS * 1000 - 200);
    tooFast = polled.tooFast;
    return polled.doc;
  });
  if (tooFast) throw oidcError("SlowDownException", "Client is polling too quickly");
  const approval = findApproval(doc, device, now);
  if (!approval) throw oidcError("AuthorizationPendingException", "Authorization is still pending");
  if (approval.denied) throw oidcError("AccessDeniedException", "The user denied this sign-in");
  if (approval.redeemed) throw invalidGrant("Device code was already used");
  // Taken out of the shared store before any token is issued: only one poll can win it.
  let taken = false as boolean; // set by the update below
  await ctx.approvals.update((doc) => {
    const latest = findApproval(doc, device, now);
    taken = latest !== undefined && !latest.redeemed && !latest.denied;
    return taken ? redeemApproval(doc, device.userCode, now) : doc;
  });
  if (!taken) throw invalidGrant("Device code was already used");
  const user = ctx.activeUser(approval.userName);
  const grant: SsoGrant = {
    id: newId(),
    clientId: client.id,
    clientName: client.name,
    createdAt: now,
    expiresAt: now + grantLifetimeMs(ctx),
  };
  let current = false as boolean; // set by the update below
  if (user)
    await ctx.credentials.update(approval.userName, (r) => {
      // A reset between the approval and this poll voids the approval.
      current = r.sessionEpoch === approval.epoch;
      return current ? addGrant(r, grant, now) : r;
    });
  if (!user || !current) throw invalidGrant("The sign-in was revoked");
  const who = { user, grant };
  return tokensFor(ctx, client, who);
}

async function authorizationCodeGrant(
  ctx: SsoContext,
  input: { client: SealedKinds["clientId"]; body: Body },
) {
  const { client, body } = input;
  const code = open("code", str(body, "code", true) ?? "", ctx.tokenKey);
  const now = ctx.now().getTime();
  if (code?.clientId !== client.id || code.expiresAt <= now)
    throw invalidGrant("Invalid authorization code provided");
  if (str(body, "redirectUri") !== code.redirectUri)
    throw invalidGrant("redirectUri does not match the authorization request");
  if (!verifierMatches(str(body, "codeVerifier") ?? "", code.challenge))
    throw invalidGrant("codeVerifier does not match the code challenge");
  const user = ctx.activeUser(code.userName);
  if (!user) throw invalidGrant("The sign-in was revoked");
  let first = false as boolean; // set by the update below
  const record = await ctx.credentials.update(code.userName, (r) => {
    const grant = findGrant(r, code, now);
    first = grant !== undefined && !grant.redeemed;
    return first ? redeemGrant(r, code.grantId) : r;
  });
  const grant = first ? findGrant(record, code, now) : undefined;
  if (!grant) throw invalidGrant("Authorization code was already used");
  return tokensFor(ctx, client, { user, grant });
}

async function refreshTokenGrant(
  ctx: SsoContext,
  input: { client: SealedKinds["clientId"]; body: Body },
) {
  const { client, body } = input;
  const refresh = open("refresh", str(body, "refreshToken", true) ?? "", ctx.tokenKey);
  if (refresh?.clientId !== client.id || refresh.expiresAt <= ctx.now().getTime())
    throw invalidGrant("Invalid refresh token provided");
  const who = await liveGrant(ctx, refresh);
  if (!who) throw invalidGrant("Invalid refresh token provided");
  return tokensFor(ctx, client, who);
}

/** The SSO OIDC API (`sso-oidc`, rest-json), under the prefix it is registered with. */
export function oidcApi(ctx: SsoContext) {
  return (app: FastifyInstance) => {
    jsonApi(app, "oidc", ctx.log);

    app.post("/client/register", (req: FastifyRequest) => {
      const body = (req.body ?? {}) as Body;
      const name = str(body, "clientName", true) ?? "";
      if (!/^[^\p{Cc}]{1,128}$/u.test(name))
        throw oidcError("InvalidClientMetadataException", "clientName must be 1 to 128 characters");
      if (str(body, "clientType", true) !== "public")
        throw oidcError("InvalidClientMetadataException", "clientType must be public");
      const redirectUris = strings(body, "redirectUris");
      for (const uri of redirectUris)
        if (!URL.canParse(uri) || !/^https?:$/.test(new URL(uri).protocol))
          throw oidcError("InvalidRedirectUriException", `Invalid redirect URI ${uri}`);
      const grantTypes = strings(body, "grantTypes");
      for (const g of grantTypes)
        if (![DEVICE_GRANT, "authorization_code", "refresh_token"].includes(g))
          throw oidcError("InvalidClientMetadataException", `Unsupported grant type ${g}`);
      const now = ctx.now().getTime();
      const id = newId();
      const expiresAt = now + REGISTRATION_SECONDS * 1000;
      const client = {
        id,
        name,
        scopes: strings(body, "scopes"),
        grantTypes,
        redirectUris,
        issuedAt: now,
        expiresAt,
      };
      ctx.log.info({ sso: "register", client: name }, "SSO client registered");
      return {
        clientId: seal("clientId", client, ctx.tokenKey),
        clientSecret: seal("clientSecret", { id, expiresAt }, ctx.tokenKey),
        clientIdIssuedAt: Math.floor(now / 1000),
        clientSecretExpiresAt: Math.floor(expiresAt / 1000),
        authorizationEndpoint: `${new URL(ctx.portalUrl()).origin}/authorize`,
        tokenEndpoint: `${ctx.portalUrl()}/sso/oidc/token`,
      };
    });

    app.post("/device_authorization", (req: FastifyRequest) => {
      const body = (req.body ?? {}) as Body;
      const client = authenticateClient(ctx, body);
      str(body, "startUrl", true);
      if (client.grantTypes.length > 0 && !client.grantTypes.includes(DEVICE_GRANT))
        throw oidcError("UnauthorizedClientException", "The client may not use the device flow");
      const now = ctx.now().getTime();
      const expiresAt = now + DEVICE_CODE_SECONDS * 1000;
      const userCode = newUserCode();
      const nonce = newId();
      const ticket = seal(
        "ticket",
        { userCode, nonce, clientName: client.name, expiresAt },
        ctx.tokenKey,
      );
      const verificationUri = `${ctx.portalUrl()}/device`;
      return {
        deviceCode: seal(
          "device",
          { clientId: client.id, userCode, nonce, expiresAt },
          ctx.tokenKey,
        ),
        userCode,
        verificationUri,
        verificationUriComplete: `${verificationUri}?ticket=${ticket}`,
        expiresIn: DEVICE_CODE_SECONDS,
        interval: POLL_INTERVAL_SECONDS,
      };
    });

    app.post("/token", async (req: FastifyRequest, reply: FastifyReply) => {
      const body = (req.body ?? {}) as Body;
      const client = authenticateClient(ctx, body);
      const grantType = str(body, "grantType", true) ?? "";
      if (client.grantTypes.length > 0 && !client.grantTypes.includes(grantType))
        throw oidcError("UnauthorizedClientException", `The client may not use ${grantType}`);
      const input = { client, body };
      const tokens =
        grantType === DEVICE_GRANT
          ? await deviceCodeGrant(ctx, input)
          : grantType === "authorization_code"
            ? await authorizationCodeGrant(ctx, input)
            : grantType === "refresh_token"
              ? await refreshTokenGrant(ctx, input)
              : undefined;
      if (!tokens)
        throw oidcError("UnsupportedGrantTypeException", `Unsupported grant type ${grantType}`);
      return reply.send(tokens);
    });
    return Promise.resolve();
  };
}
