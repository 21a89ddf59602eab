import type { FastifyReply, FastifyRequest } from "fastify";
import { isValidUser } from "../identity/directory.ts";
import type { PortalContext } from "./context.ts";
import { httpError } from "./errors.ts";
import { freshSession, signInPolicy, signedInSession } from "./plugins/session.ts";
import { safeReturnTo } from "./routes/sign-in.ts";

/** Who an upstream identity provider says signed in, after its protocol's checks. */
export interface UpstreamIdentity {
  userName: string;
  email: string | undefined;
  groups: string[];
  /** The upstream says it did multi-factor authentication. */
  mfa: boolean;
  /** When the upstream's own session ends (ms since the epoch), if it says. */
  upstreamSessionEnd: number | undefined;
}

/**
 * Starts the portal session of a user an upstream IdP signed in: the User is the one whose
 * userName matches (ignoring case) and who may sign in; nobody else gets a session. MFA the
 * upstream reports stands for ours; otherwise the instance's MFA policy applies, and a user
 * with an authenticator is asked for its code as after a password. The session is listed in
 * the user's credential record like any other (sign-out and revocation end it) and ends no
 * later than the upstream's.
 */
export async function startUpstreamSession(
  portal: PortalContext,
  req: FastifyRequest,
  reply: FastifyReply,
  input: { identity: UpstreamIdentity; via: string },
) {
  const { identity, via } = input;
  const s = portal.stores;
  const object = s.directory.validUserFor(identity.userName);
  const user = object === undefined ? undefined : s.users.informer.get(object);
  if (!user || !user.spec.active || !isValidUser(user, s.directory)) {
    req.audit(via, user ? "inactive" : "unknown_user", identity.userName);
    throw httpError(
      403,
      user
        ? `The account ${identity.userName} may not sign in to this portal. Ask an administrator.`
        : `Your identity provider signed you in as ${identity.userName}, but this portal has no user of that name. Ask an administrator to add you.`,
    );
  }
  const userName = user.spec.userName;
  const t = portal.now().getTime();
  const session = req.session;
  const returnTo = safeReturnTo(session?.returnTo);
  const forceFor = returnTo ? session?.forceFor : undefined;
  const ic = portal.instance();
  const mfaPolicy = ic.spec.signIn.mfa;
  // The upstream's MFA counts only when the instance trusts it (trustUpstreamMfa).
  const mfa = identity.mfa && ic.spec.identitySource.trustUpstreamMfa;
  const policy = signInPolicy(portal);
  const expiresAt = Math.min(t + policy.absoluteMs, identity.upstreamSessionEnd ?? Infinity);
  if (expiresAt <= t) throw httpError(401, "Your identity provider's session has already ended.");
  const record = await portal.credentials.get(userName);
  if (!mfa && mfaPolicy !== "disabled" && record?.totpSecret) {
    // Half signed in: the code step (/login/otp) finishes it, as after a password.
    await portal.checks.passwordAccepted(userName);
    req.audit(via, "accepted", userName);
    reply.writeSession({
      ...freshSession(userName, record.sessionEpoch, t, record.userUid),
      pendingMfa: true,
      ...(returnTo ? { returnTo } : {}),
      ...(forceFor ? { forceFor } : {}),
    });
    return reply.redirect("/login/otp", 303);
  }
  if (!mfa && mfaPolicy === "required") {
    req.audit(via, "no_authenticator", userName);
    throw httpError(
      403,
      "Your identity provider did not report a multi-factor sign-in and your account has no authenticator here. Ask an administrator for a setup link.",
    );
  }
  const id = await portal.checks.signedIn(userName, expiresAt, t);
  // The session belongs to the User the record is bound to (its uid), as after a password.
  const signedInRecord = await portal.credentials.get(userName);
  const epoch = signedInRecord?.sessionEpoch ?? 0;
  req.audit(via, "signed_in", userName);
  reply.writeSession(
    signedInSession(
      {
        userName,
        ...(signedInRecord?.userUid ? { uid: signedInRecord.userUid } : {}),
        epoch,
        id,
        method: mfa ? "password+totp" : "password",
        ...(forceFor ? { freshFor: forceFor } : {}),
      },
      t,
    ),
  );
  return reply.redirect(returnTo ?? "/", 303);
}
