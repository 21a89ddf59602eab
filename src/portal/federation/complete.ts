import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyReply, FastifyRequest } from "fastify";
import {
  decideUpstreamSignIn,
  federatedSessionEnd,
  type UpstreamIdentity,
} from "../../identity/upstream-identity.ts";
import { safeReturnTo } from "../routes/sign-in.ts";
import type { PortalContext } from "../context.ts";
import { freshSession, signInPolicy, signedInSession } from "../plugins/session.ts";
import type { Session } from "../session-cookie.ts";

const CACHE_WAIT_MS = 10_000;

/** Waits (briefly) until the portal's caches show what this replica just wrote. */
async function untilCached(check: () => boolean): Promise<boolean> {
  for (let waited = 0; waited < CACHE_WAIT_MS; waited += 50) {
    if (check()) return true;
    await sleep(50);
  }
  return check();
}

export function refuseUpstream(reply: FastifyReply, status: number, message: string) {
  return reply.code(status).page("upstream-refused", { status, message });
}

/**
 * Completes a sign-in the upstream vouched for, the same way for OIDC and SAML: decide who it
 * is (identity/upstream-identity.ts), create the User and apply the group claims, then start
 * the same portal session a password sign-in starts. The upstream's MFA counts when the
 * instance trusts it; otherwise the instance's MFA policy asks for our own TOTP. The session
 * never outlives the upstream's statement.
 */
export async function completeUpstreamSignIn(
  req: FastifyRequest,
  reply: FastifyReply,
  input: {
    identity: UpstreamIdentity;
    /** The pre-sign-in session the flow started in (its returnTo and ForceAuthn request). */
    before: Session;
    endSessionUrl?: string | undefined;
    protocol: "oidc" | "saml";
  },
): Promise<FastifyReply> {
  const portal: PortalContext = req.server.portal;
  const ic = portal.instance();
  const source = ic.spec.identitySource;
  const { identity, before } = input;
  const s = portal.stores;
  const decision = decideUpstreamSignIn(
    identity,
    { jitProvisioning: source.jitProvisioning, groupMapping: source.groupMapping },
    {
      index: s.directory,
      user: (name) => s.users.informer.get(name),
      group: (name) => s.groups.informer.get(name),
    },
  );
  const audited = identity.userName ?? `sub:${identity.subject}`;
  if (decision.outcome === "refused") {
    req.audit(`upstream_${input.protocol}`, decision.reason, audited);
    return refuseUpstream(reply, 403, decision.message);
  }
  const { userName } = decision;
  const writer = portal.identitySource;
  if (decision.create) {
    if (!writer) return refuseUpstream(reply, 503, "This portal cannot create users.");
    await writer.createUser(decision.create);
    req.audit(`upstream_${input.protocol}`, "user_created", userName);
    const made = await untilCached(() => s.directory.validUserFor(userName) !== undefined);
    if (!made) return refuseUpstream(reply, 503, "Your new user is not ready yet. Try again.");
  }
  const { join, leave, skipped } = decision.groups;
  if (skipped.length > 0)
    portal.log.info(
      { user: userName, groups: skipped },
      "upstream groups map to Groups the identity source does not own; left alone",
    );
  if (writer && (join.length > 0 || leave.length > 0)) {
    await Promise.all([
      ...join.map((g) => writer.setMembership(g.group, userName, true, g.displayName)),
      ...leave.map((g) => writer.setMembership(g, userName, false)),
    ]);
    // The account list right after sign-in shows what the claims just granted.
    await untilCached(() => {
      const groups = s.directory.groupsWithMember(userName);
      return join.every((g) => groups.has(g.group)) && leave.every((g) => !groups.has(g));
    });
  }
  const t = portal.now().getTime();
  const notAfter = federatedSessionEnd(identity, t, signInPolicy(portal).absoluteMs);
  if (notAfter <= t)
    return refuseUpstream(reply, 401, "Your upstream sign-in has already expired.");
  const upstream = {
    notAfter,
    ...(input.endSessionUrl ? { endSessionUrl: input.endSessionUrl } : {}),
  };
  const returnTo = safeReturnTo(before.returnTo);
  const forceFor = returnTo ? before.forceFor : undefined;
  const mfaPolicy = ic.spec.signIn.mfa;
  const upstreamMfa = identity.mfa && source.trustUpstreamMfa;
  const record = await portal.credentials.get(userName);
  if (!upstreamMfa && mfaPolicy !== "disabled" && record?.totpSecret) {
    // Our own second factor, exactly as after a password: /login/otp finishes the sign-in.
    req.audit(`upstream_${input.protocol}`, "accepted", userName);
    reply.writeSession({
      // Bound to the User's uid, as after a password: a later User of this userName cannot
      // finish this sign-in.
      ...freshSession(userName, record.sessionEpoch, t, record.userUid),
      pendingMfa: true,
      upstream,
      ...(returnTo ? { returnTo } : {}),
      ...(forceFor ? { forceFor } : {}),
    });
    return reply.redirect("/login/otp", 303);
  }
  if (!upstreamMfa && mfaPolicy === "required") {
    req.audit(`upstream_${input.protocol}`, "no_authenticator", userName);
    return refuseUpstream(
      reply,
      403,
      "This portal requires multi-factor sign-in. Your identity provider did not report one, and you have no authenticator here: sign in upstream with MFA, or ask an administrator for a setup link.",
    );
  }
  const { id, epoch, uid } = await portal.checks.federatedSignIn(userName, notAfter, t);
  req.audit(`upstream_${input.protocol}`, "signed_in", userName);
  reply.writeSession({
    ...signedInSession(
      {
        userName,
        // The session belongs to the User the credential record is bound to (its uid).
        ...(uid ? { uid } : {}),
        epoch,
        id,
        method: upstreamMfa ? "upstream+mfa" : "upstream",
        ...(forceFor ? { freshFor: forceFor } : {}),
      },
      t,
    ),
    upstream,
  });
  return reply.redirect(returnTo ?? "/", 303);
}
