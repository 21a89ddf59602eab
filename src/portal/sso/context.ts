import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { IdentityCenter, User } from "../../api/v1alpha1/index.ts";
import { isoDurationSeconds } from "../../plan/naming.ts";
import type { SharedDocument } from "../../adapters/k8s/secret-document.ts";
import type { AccountAccess, RoleAccess } from "../access.ts";
import type { CredentialRecord } from "../../identity/credentials.ts";
import type { Session } from "../session-cookie.ts";
import type { DeviceApprovals } from "./device-approvals.ts";
import type { TokenKeys } from "./tokens.ts";

export interface RoleCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** What the SSO APIs take from the portal they run in. */
export interface SsoContext {
  /** Seal every token and code (see tokens.ts); the same on every replica, rotating with the session keys. */
  readonly tokenKey: TokenKeys;
  now: () => Date;
  instance: () => IdentityCenter;
  /** The portal's base URL (the start URL users log in with). */
  portalUrl: () => string;
  credentials: {
    get(userName: string): Promise<CredentialRecord | undefined>;
    update(
      userName: string,
      change: (current: CredentialRecord) => CredentialRecord,
    ): Promise<CredentialRecord>;
  };
  approvals: SharedDocument<DeviceApprovals>;
  /** The user of that userName if they may sign in now: exists, unique, active. */
  activeUser(userName: string): User | undefined;
  accessOf(user: User): AccountAccess[];
  /**
   * The same, for the accounts with one AWS account id only: ListAccountRoles and
   * GetRoleCredentials name one account, and a walk of every account calls them once per
   * account, so each must cost what that account has, not what the organisation has.
   */
  accessIn(user: User, accountId: string): AccountAccess[];
  /** STS AssumeRoleWithSAML with the console's assertion: the one path to AWS credentials. */
  roleCredentials(
    user: User,
    role: RoleAccess,
    /** When the user approved the CLI sign-in (the assertion's AuthnInstant). */
    approvedAt: number,
  ): Promise<RoleCredentials>;
  /** The signed-in person of a browser request (portal session cookie). */
  currentUser(
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<{ user: User; session: Session } | undefined>;
  checkCsrf(session: Session | undefined, form: Record<string, string | undefined>): void;
  /** Sends someone not signed in to the login page, to come back to this request after. */
  signInFirst(req: FastifyRequest, reply: FastifyReply): FastifyReply;
  log: Logger;
}

export const ACCESS_TOKEN_SECONDS = 3600;
export const DEVICE_CODE_SECONDS = 600;
export const POLL_INTERVAL_SECONDS = 1;
export const AUTHORIZATION_CODE_SECONDS = 300;
export const REGISTRATION_SECONDS = 90 * 24 * 3600;
/** The scope that lets a client refresh (what AWS requires for a refresh token). */
export const ACCOUNT_ACCESS_SCOPE = "sso:account:access";
export const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** How long a CLI sign-in (and its refresh tokens) lasts: as long as a portal session may. */
export function grantLifetimeMs(ctx: SsoContext): number {
  return isoDurationSeconds(ctx.instance().spec.signIn.duration) * 1000;
}
