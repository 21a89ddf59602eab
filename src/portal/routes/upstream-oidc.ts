import type { FastifyPluginCallback } from "fastify";
import * as oidc from "openid-client";
import type { IdentityCenter } from "../../api/v1alpha1/index.ts";
import { amrIsMultiFactor, type UpstreamIdentity } from "../../identity/upstream-identity.ts";
import { upstreamOidcRedirectUri } from "../../plan/sso-endpoints.ts";
import type { PortalContext } from "../context.ts";
import { completeUpstreamSignIn, refuseUpstream } from "../federation/index.ts";
import { anonymousSession } from "../plugins/session.ts";
import { UPSTREAM_FLOW_MS } from "../session-cookie.ts";

type OidcSettings = NonNullable<IdentityCenter["spec"]["identitySource"]["oidc"]>;

/** Discovery is cached per settings; a failed one is retried at the next sign-in. */
const DISCOVERY_TTL_MS = 15 * 60_000;

/**
 * The upstream's configuration (discovery document, keys) for the current settings: read
 * again when the settings, the client secret or DISCOVERY_TTL_MS move on.
 */
class UpstreamConfigurations {
  private cached: { key: string; at: number; config: Promise<oidc.Configuration> } | undefined;
  private readonly portal: PortalContext;

  constructor(portal: PortalContext) {
    this.portal = portal;
  }

  async get(settings: OidcSettings): Promise<oidc.Configuration> {
    const readSecret = this.portal.readSecret;
    if (!readSecret) throw new Error("the portal cannot read the client secret");
    const secret = await readSecret(settings.clientSecret.name, settings.clientSecret.key);
    const key = JSON.stringify([settings.issuerUrl, settings.clientId, secret]);
    const now = Date.now();
    if (!this.cached || this.cached.key !== key || now - this.cached.at > DISCOVERY_TTL_MS) {
      const config = oidc.discovery(
        new URL(settings.issuerUrl),
        settings.clientId,
        { client_secret: secret },
        oidc.ClientSecretPost(secret),
      );
      this.cached = { key, at: now, config };
      config.catch(() => {
        if (this.cached?.config === config) this.cached = undefined;
      });
    }
    return this.cached.config;
  }
}

const stringClaim = (claims: Record<string, unknown>, name: string) => {
  const value = claims[name];
  return typeof value === "string" ? value : undefined;
};

/** The groups claim: an array of strings, or undefined when the upstream sent none. */
function groupsClaim(claims: Record<string, unknown>, name: string | undefined) {
  if (!name) return undefined;
  const value = claims[name];
  if (!Array.isArray(value)) return undefined;
  return value.filter((g): g is string => typeof g === "string");
}

/**
 * Sign-in through an upstream OpenID Connect provider: authorization code flow with PKCE
 * (openid-client), state, nonce and verifier kept in the sealed session cookie; the id_token's
 * signature, issuer, audience, nonce and expiry are checked by openid-client, the rest of the
 * sign-in is the federation core's (federation/complete.ts).
 */
export const upstreamOidcRoutes: FastifyPluginCallback = (app, _options, done) => {
  const portal = app.portal;
  const configurations = new UpstreamConfigurations(portal);

  const settingsOf = () => {
    const source = portal.instance().spec.identitySource;
    return source.type === "oidc" ? source.oidc : undefined;
  };

  app.get("/upstream/oidc/start", async (req, reply) => {
    const settings = settingsOf();
    if (!settings) return refuseUpstream(reply, 404, "This portal does not sign in with OIDC.");
    let config: oidc.Configuration;
    try {
      config = await configurations.get(settings);
    } catch (err) {
      req.log.warn({ err: String(err) }, "upstream OIDC discovery failed");
      return refuseUpstream(
        reply,
        502,
        "The identity provider cannot be reached. Try again later.",
      );
    }
    const t = portal.now().getTime();
    const before = anonymousSession(req.session, t);
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const flow = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier,
      startedAt: t,
      // A ForceAuthn request waits: the upstream must ask the user again, not reuse its session.
      ...(before.forceFor && before.returnTo ? { forced: true } : {}),
    };
    reply.writeSession({ ...before, upstreamFlow: flow });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: upstreamOidcRedirectUri(portal.portalUrl()),
      scope: settings.scopes.join(" "),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
      state: flow.state,
      nonce: flow.nonce,
      ...(flow.forced ? { prompt: "login", max_age: "0" } : {}),
    });
    return reply.redirect(url.href, 303);
  });

  app.get("/upstream/oidc/callback", async (req, reply) => {
    const settings = settingsOf();
    if (!settings) return refuseUpstream(reply, 404, "This portal does not sign in with OIDC.");
    const before = req.session;
    const flow = before?.upstreamFlow;
    const t = portal.now().getTime();
    if (!before || !flow || t - flow.startedAt > UPSTREAM_FLOW_MS)
      return refuseUpstream(
        reply,
        400,
        "This sign-in was not started here or took too long. Start again.",
      );
    // The flow is used once, whatever its outcome.
    const rest = { ...before };
    delete rest.upstreamFlow;
    reply.writeSession(rest);
    const query = new URLSearchParams(req.url.split("?")[1] ?? "");
    const upstreamError = query.get("error");
    if (upstreamError) {
      req.audit("upstream_oidc", "upstream_error", upstreamError.slice(0, 64));
      return refuseUpstream(reply, 401, "The identity provider did not sign you in.");
    }
    let claims: Record<string, unknown>;
    let endSessionUrl: string | undefined;
    try {
      const config = await configurations.get(settings);
      const callback = new URL(upstreamOidcRedirectUri(portal.portalUrl()));
      callback.search = query.toString();
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const idClaims = tokens.claims();
      if (!idClaims) throw new Error("no id_token");
      // A forced sign-in must be one the user made after the request asked for it.
      if (
        flow.forced &&
        (typeof idClaims.auth_time !== "number" ||
          idClaims.auth_time * 1000 < flow.startedAt - 60_000)
      )
        throw new Error("the upstream reused an earlier sign-in for a ForceAuthn request");
      let info: Record<string, unknown> = {};
      if (config.serverMetadata().userinfo_endpoint)
        info = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
      // The id_token is the signed statement: userinfo only fills in what it left out.
      claims = { ...info, ...idClaims };
      const endSession = config.serverMetadata().end_session_endpoint;
      if (endSession)
        endSessionUrl = oidc
          .buildEndSessionUrl(config, {
            client_id: settings.clientId,
            post_logout_redirect_uri: new URL("/login", portal.portalUrl()).href,
          })
          .toString();
    } catch (err) {
      req.log.warn({ err: String(err) }, "upstream OIDC sign-in refused");
      req.audit("upstream_oidc", "invalid_response", "");
      return refuseUpstream(
        reply,
        401,
        "The identity provider's answer could not be verified. Start the sign-in again.",
      );
    }
    const exp = claims.exp;
    const authTime = claims.auth_time;
    const identity: UpstreamIdentity = {
      subject: String(claims.sub),
      userName: stringClaim(claims, settings.userNameClaim),
      // An address the upstream says it has not verified names no one (it could be anybody's).
      email: claims.email_verified === false ? undefined : stringClaim(claims, settings.emailClaim),
      displayName: stringClaim(claims, "name"),
      givenName: stringClaim(claims, "given_name"),
      familyName: stringClaim(claims, "family_name"),
      groups: groupsClaim(claims, settings.groupsClaim),
      mfa: amrIsMultiFactor(claims.amr),
      authTime: typeof authTime === "number" ? authTime * 1000 : undefined,
      expiresAt: typeof exp === "number" ? exp * 1000 : t,
    };
    return completeUpstreamSignIn(req, reply, {
      identity,
      before: rest,
      endSessionUrl,
      protocol: "oidc",
    });
  });
  done();
};
