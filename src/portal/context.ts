import type { KeyObject } from "node:crypto";
import fp from "fastify-plugin";
import type { Logger } from "pino";
import type {
  Account,
  AccountAssignment,
  Application,
  ApplicationAssignment,
  Group,
  IdentityCenter,
  PermissionSet,
  User,
} from "../api/v1alpha1/index.ts";
import { portalUrl } from "../plan/naming.ts";
import { SamlStsClients, type StsTimeouts } from "../adapters/aws/saml-sts.ts";
import type { Change } from "../runtime/informer.ts";
import type { DirectoryIndex } from "../identity/directory-index.ts";
import type { AccountIdIndex, AssignmentIndex } from "../identity/assignment-index.ts";
import { PortalMetrics } from "../observability/metrics.ts";
import {
  authorizedRole,
  accessibleAccountsWithId,
  indexedAccessibleAccounts,
  type AccessSource,
  type RoleAccess,
} from "./access.ts";
import { accessibleApplications } from "./applications.ts";
import type { CredentialRecord, SessionRecord } from "../identity/credentials.ts";
import { httpError } from "./errors.ts";
import { sessionKeyId, type SessionKeyRing } from "./session-cookie.ts";
import { SignInChecks } from "./sign-in.ts";
import { DEFAULT_THROTTLE, type ThrottleOptions } from "./throttle.ts";
import { memoryDocument, type SharedDocument } from "../adapters/k8s/secret-document.ts";
import { emptyApprovals, type DeviceApprovals } from "./sso/device-approvals.ts";
import type { IdentitySourceWriter } from "../adapters/k8s/identity-source-writer.ts";
import { HashGate, type HashAdmission, type HashGateOptions } from "./hash-gate.ts";
import {
  DEFAULT_ARGON2,
  hashPassword,
  verifyAgainstDummy,
  verifyPassword,
  type Argon2Params,
} from "./password.ts";
import { emptyUsedAssertions, type UsedAssertions } from "./upstream-saml.ts";
import type { ScimBackend } from "./scim/directory.ts";

/** Where credential records live (a Secret per user); `update` is a conditional write. */
export interface CredentialBackend {
  get(userName: string): Promise<CredentialRecord | undefined>;
  update(
    userName: string,
    change: (current: CredentialRecord) => CredentialRecord,
  ): Promise<CredentialRecord>;
  /** `update` of an existing record of the User that has the userName now; else undefined. */
  updateExisting(
    userName: string,
    change: (current: CredentialRecord) => CredentialRecord,
  ): Promise<CredentialRecord | undefined>;
}

/**
 * The session check's view of every credential record, kept by a watch (CredentialSessions):
 * `undefined` while not synced (read the record instead), else the User's record as cached,
 * possibly none. Its answers are trusted only when they honour the session; a refusal is
 * confirmed by a read (docs/adr/0021-portal-credential-cache.md).
 */
export interface SessionRecordCache {
  lookup(userName: string): { record: SessionRecord | undefined } | undefined;
}

/** A read-only cache of one kind: what the portal needs of an informer. */
export interface Lookup<T> {
  get(name: string): T | undefined;
  list(): T[];
}

/** A cache that also tells of its changes. */
export interface WatchedLookup<T> extends Lookup<T> {
  onChange(handler: (change: Change<T>) => void): void;
}

/** The caches the portal reads (the informers' stores and the directory index over them). */
export interface PortalStores {
  identityCenters: { informer: Lookup<IdentityCenter> };
  /** Watched: a user made inactive or deleted loses their sessions at once. */
  users: { informer: WatchedLookup<User> };
  /** Watched: SCIM keeps an index of ids (see scim/directory.ts). */
  groups: { informer: WatchedLookup<Group> };
  permissionSets: { informer: Lookup<PermissionSet> };
  accounts: { informer: Lookup<Account> };
  assignments: { informer: Lookup<AccountAssignment> };
  applications: { informer: Lookup<Application> };
  applicationAssignments: { informer: Lookup<ApplicationAssignment> };
  directory: DirectoryIndex;
  /** Assignments by principal and accounts by id, over the caches above. */
  access: AccessIndexes;
}

export interface AccessIndexes {
  assignments: AssignmentIndex;
  applicationAssignments: AssignmentIndex;
  accountIds: AccountIdIndex;
}

export interface SigningIdentity {
  privateKey: KeyObject;
  certificatePem: string;
  certificateBase64: string;
}

/** Where the portal finds each Application's own signing key (see SecretApplicationKeys). */
export interface ApplicationKeySource {
  /** The application's key and certificate, or undefined while the controller has made none. */
  signingFor(application: Application): Promise<SigningIdentity | undefined>;
}

export interface PortalDeps {
  stores: PortalStores;
  instanceName: string;
  credentials: CredentialBackend;
  /** What the session check reads before the credential record itself (none: always read). */
  sessionRecords?: SessionRecordCache;
  /** The session key; `sessionKeys` instead when keys rotate. */
  sessionKey?: Buffer;
  /** Session keys, current first (it seals; all open), or where to read them each time. */
  sessionKeys?: SessionKeyRing | (() => SessionKeyRing);
  /** Limits on credential checks; DEFAULT_THROTTLE when unset. */
  throttle?: ThrottleOptions;
  /**
   * Proxies in front of the portal whose X-Forwarded-For entry is believed (the ingress: 1).
   * The client address is the entry that many hops back; anything a client adds itself is
   * to the left of it and ignored.
   */
  trustedProxyHops?: number;
  /** The instance's key: it signs AWS sign-ins (console and CLI credentials) and nothing else. */
  signing: SigningIdentity;
  /** Each Application's own key, which signs that application's responses. */
  applicationKeys: ApplicationKeySource;
  /** STS endpoint for CLI credentials when the IdentityCenter does not set one. */
  stsEndpoint: string | undefined;
  /** How long AssumeRoleWithSAML may wait for STS (default: DEFAULT_STS_TIMEOUTS). */
  stsTimeouts?: StsTimeouts;
  region: string;
  metrics?: PortalMetrics;
  log: Logger;
  now?: () => Date;
  /** Device approvals of CLI sign-in, shared by the replicas (default: this process only). */
  deviceApprovals?: SharedDocument<DeviceApprovals>;
  /** Password hashes in flight and waiting (default: 2 and 32, what a 512 MiB pod bears). */
  hashing?: Omit<HashGateOptions, "onRefused">;
  /** Upstream SAML assertions already used, shared by the replicas (default: this process). */
  usedAssertions?: SharedDocument<UsedAssertions>;
  /** What the SCIM endpoint writes through and checks tokens against (no endpoint without). */
  scim?: ScimBackend;
  /** Users created and Groups joined at an upstream sign-in (JIT provisioning, group claims). */
  identitySource?: IdentitySourceWriter;
  /** Reads a key of a Secret of the operator's namespace by name (the upstream client secret). */
  readSecret?: (name: string, key: string) => Promise<string>;
}

/**
 * What every plugin of the portal shares: the caches, the credential records, the keys, the
 * clock. One per app, as `app.portal`; it holds no per-request state.
 */
export class PortalContext {
  readonly stores: PortalStores;
  readonly instanceName: string;
  readonly credentials: CredentialBackend;
  readonly sessionRecords: SessionRecordCache | undefined;
  /** The credential checks of sign-in, setup and sessions (see sign-in.ts). */
  readonly checks: SignInChecks;
  readonly throttle: ThrottleOptions;
  readonly signing: SigningIdentity;
  readonly applicationKeys: ApplicationKeySource;
  readonly stsEndpoint: string | undefined;
  /** STS clients for CLI credentials, one per endpoint, with timeouts. */
  readonly sts: SamlStsClients;
  readonly region: string;
  readonly metrics: PortalMetrics;
  readonly log: Logger;
  readonly now: () => Date;
  private readonly keys: SessionKeyRing | (() => SessionKeyRing);
  readonly deviceApprovals: SharedDocument<DeviceApprovals>;
  readonly identitySource: IdentitySourceWriter | undefined;
  readonly readSecret: ((name: string, key: string) => Promise<string>) | undefined;
  private readonly hashGate: HashGate;
  readonly usedAssertions: SharedDocument<UsedAssertions>;

  constructor(deps: PortalDeps) {
    this.stores = deps.stores;
    this.instanceName = deps.instanceName;
    this.credentials = deps.credentials;
    this.sessionRecords = deps.sessionRecords;
    const key = deps.sessionKey;
    const keys = deps.sessionKeys ?? (key ? [{ id: sessionKeyId(key), key }] : undefined);
    if (!keys) throw new Error("the portal needs a session key");
    this.keys = keys;
    this.throttle = deps.throttle ?? DEFAULT_THROTTLE;
    this.signing = deps.signing;
    this.applicationKeys = deps.applicationKeys;
    this.stsEndpoint = deps.stsEndpoint;
    this.region = deps.region;
    this.sts = new SamlStsClients(deps.region, deps.stsTimeouts);
    this.metrics = deps.metrics ?? new PortalMetrics();
    this.log = deps.log;
    this.now = deps.now ?? (() => new Date());
    const metrics = this.metrics;
    this.hashGate = new HashGate({
      ...(deps.hashing ?? { concurrency: 2, queue: 32 }),
      onRefused: () => metrics.hashRefusals.inc(),
    });
    this.checks = new SignInChecks(this.credentials, this.metrics, {
      admit: () => {
        const admission = this.hashGate.admit();
        return {
          verify: (password, stored) =>
            this.gated(() => verifyPassword(password, stored), admission),
          verifyNothing: (password) => {
            const params = this.passwordHashing();
            return this.gated(() => verifyAgainstDummy(password, params), admission);
          },
          release: () => admission.release(),
        };
      },
    });
    this.deviceApprovals = deps.deviceApprovals ?? memoryDocument(emptyApprovals);
    this.usedAssertions = deps.usedAssertions ?? memoryDocument(emptyUsedAssertions);
    this.identitySource = deps.identitySource;
    this.readSecret = deps.readSecret;
  }

  /** The instance's Argon2id cost for new hashes. */
  passwordHashing(): Argon2Params {
    return this.findInstance()?.spec.signIn.passwordHashing ?? DEFAULT_ARGON2;
  }

  private async gated<T>(
    job: () => Promise<T>,
    admission: HashAdmission = this.hashGate.admit(),
  ): Promise<T> {
    return admission.run(async () => {
      this.metrics.hashesInFlight.inc();
      try {
        return await job();
      } finally {
        this.metrics.hashesInFlight.dec();
      }
    });
  }

  /** Hashes a new password at the instance's cost, within the portal's memory bound. */
  hashPassword(password: string): Promise<string> {
    const params = this.passwordHashing();
    return this.gated(() => hashPassword(password, params));
  }

  /** Checks a password within the portal's memory bound; a full queue answers 503. */
  verifyPassword(password: string, stored: string): Promise<boolean> {
    return this.gated(() => verifyPassword(password, stored));
  }

  /** The session keys now: the first seals, every one opens (they rotate; see portal.ts). */
  sessionKeys(): SessionKeyRing {
    return typeof this.keys === "function" ? this.keys() : this.keys;
  }

  /** The IdentityCenter served, if the cache has it. */
  findInstance(): IdentityCenter | undefined {
    return this.stores.identityCenters.informer.get(this.instanceName);
  }

  /** The IdentityCenter served; without it no page can be built, so the request gets a 503. */
  instance(): IdentityCenter {
    const ic = this.findInstance();
    if (!ic) throw httpError(503, "the IdentityCenter is not available");
    return ic;
  }

  portalUrl(): string {
    return portalUrl(this.instance());
  }

  /** Whether the portal is served over https (the cookie is then `__Host-` and Secure). */
  secure(): boolean {
    return this.portalUrl().startsWith("https://");
  }

  groupsOf(user: User): Group[] {
    return [...this.stores.directory.groupsWithMember(user.spec.userName)]
      .map((g) => this.stores.groups.informer.get(g))
      .filter((g) => g !== undefined);
  }

  /** The caches through their indexes, for access checks that do not scan. */
  private readonly accessSource: AccessSource = {
    assignmentsOf: (userName, groups) =>
      namesToObjects(
        this.stores.access.assignments.namesFor(userName, groups),
        this.stores.assignments.informer,
      ),
    account: (name) => this.stores.accounts.informer.get(name),
    accountsWithId: (accountId) =>
      namesToObjects(
        this.stores.access.accountIds.namesWithId(accountId),
        this.stores.accounts.informer,
      ),
    accounts: () => this.stores.accounts.informer.list(),
    permissionSet: (name) => this.stores.permissionSets.informer.get(name),
  };

  /** Every role the user may open (the account list page and the SSO API). */
  accessOf(user: User) {
    return indexedAccessibleAccounts(this.accessSource, user, this.groupsOf(user));
  }

  /** The one role of a console or CLI sign-in, if the user may use it. */
  roleOf(user: User, account: string, permissionSet: string): RoleAccess | undefined {
    return authorizedRole(
      this.accessSource,
      { user, groups: this.groupsOf(user) },
      { account, permissionSet },
    );
  }

  /** What accessOf gives for the accounts with this AWS account id, looking at those only. */
  accessIn(user: User, accountId: string) {
    return accessibleAccountsWithId(
      this.accessSource,
      { user, groups: this.groupsOf(user) },
      accountId,
    );
  }

  applicationsOf(user: User): Application[] {
    const s = this.stores;
    const groups = this.groupsOf(user);
    const assignments = namesToObjects(
      s.access.applicationAssignments.namesFor(
        user.spec.userName,
        groups.map((g) => g.metadata.name),
      ),
      s.applicationAssignments.informer,
    );
    const applications = namesToObjects(
      new Set(assignments.map((a) => a.spec.application)),
      s.applications.informer,
    );
    return accessibleApplications({ user, groups, applications, assignments });
  }
}

/** The cached objects of these names (a name the cache no longer has is skipped). */
function namesToObjects<T>(names: Iterable<string>, lookup: Lookup<T>): T[] {
  const found: T[] = [];
  for (const name of names) {
    const object = lookup.get(name);
    if (object !== undefined) found.push(object);
  }
  return found;
}

declare module "fastify" {
  interface FastifyInstance {
    /** The portal's shared dependencies (see PortalContext). */
    portal: PortalContext;
  }
}

/** Decorates the app with `portal`; wrapped with fastify-plugin so every plugin sees it. */
export const portalContext = fp<{ context: PortalContext }>(
  (app, options, done) => {
    app.decorate("portal", options.context);
    done();
  },
  { name: "portal-context", fastify: "5.x" },
);
