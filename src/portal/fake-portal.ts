// In-memory stand-ins for the portal's caches and credential records, for `app.inject()` unit
// tests of single portal plugins only (not built into dist/). The integration tests run the real
// portal on a real API server.
import { generateKeyPairSync } from "node:crypto";
import cookie from "@fastify/cookie";
import Fastify from "fastify";
import pino from "pino";
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
import { AccountIdIndex, AssignmentIndex } from "../identity/assignment-index.ts";
import { DirectoryIndex } from "../identity/directory-index.ts";
import { PortalContext, portalContext, type Lookup, type PortalDeps } from "./context.ts";
import { securityHeaders } from "./plugins/security-headers.ts";
import { views } from "./plugins/views.ts";
import type { CredentialRecord } from "../identity/credentials.ts";

class MapLookup<T extends { metadata: { name: string } }> implements Lookup<T> {
  readonly items = new Map<string, T>();
  private readonly indexers: ((old: T | undefined, next: T) => void)[] = [];
  /** Keeps an index current on every put, as the real stores do from informer changes. */
  indexWith(update: (old: T | undefined, next: T) => void): this {
    this.indexers.push(update);
    return this;
  }
  get(name: string): T | undefined {
    return this.items.get(name);
  }
  list(): T[] {
    return [...this.items.values()];
  }
  put(obj: T): void {
    const old = this.items.get(obj.metadata.name);
    this.items.set(obj.metadata.name, obj);
    for (const update of this.indexers) update(old, obj);
  }
  /** Changes are not announced: the unit tests put objects before the requests that read them. */
  onChange(): void {
    // nothing to watch in memory
  }
}

export function identityCenter(name = "default", externalUrl = "http://127.0.0.1:8080") {
  const ic: IdentityCenter = {
    apiVersion: "identitycenter.dev/v1alpha1",
    kind: "IdentityCenter",
    metadata: { name, generation: 1, uid: `uid-${name}` },
    spec: {
      portal: {
        hostname: "sso.example.com",
        externalUrl,
        ingress: { enabled: true },
        replicas: 2,
        passwordHashConcurrency: 4,
      },
      signIn: { mfa: "required", duration: "PT8H", idleTimeout: "PT1H", lockoutThreshold: 5 },
      aws: { partition: "aws", signInUrl: "https://signin.aws.amazon.com/saml" },
      identitySource: { type: "internal", jitProvisioning: false, trustUpstreamMfa: true },
    },
  };
  return ic;
}

/** The caches and credential records of one portal, all in memory. */
export function fakePortal(
  options: { now?: () => Date; sessionRecords?: PortalDeps["sessionRecords"] } = {},
) {
  const directory = new DirectoryIndex();
  const users = new MapLookup<User>();
  const access = {
    assignments: new AssignmentIndex(),
    applicationAssignments: new AssignmentIndex(),
    accountIds: new AccountIdIndex(),
  };
  const stores = {
    identityCenters: { informer: new MapLookup<IdentityCenter>() },
    users: { informer: users },
    groups: { informer: new MapLookup<Group>() },
    permissionSets: { informer: new MapLookup<PermissionSet>() },
    accounts: {
      informer: new MapLookup<Account>().indexWith((o, n) => access.accountIds.update(o, n)),
    },
    assignments: {
      informer: new MapLookup<AccountAssignment>().indexWith((o, n) =>
        access.assignments.update(o, n),
      ),
    },
    applications: { informer: new MapLookup<Application>() },
    applicationAssignments: {
      informer: new MapLookup<ApplicationAssignment>().indexWith((o, n) =>
        access.applicationAssignments.update(o, n),
      ),
    },
    directory,
    access,
  };
  const records = new Map<string, CredentialRecord>();
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const deps: PortalDeps = {
    stores,
    instanceName: "default",
    credentials: {
      get: (userName) => Promise.resolve(records.get(userName)),
      update: (userName, change) => {
        const current = records.get(userName);
        if (!current) return Promise.reject(new Error(`no credential record for ${userName}`));
        const next = change(current);
        records.set(userName, next);
        return Promise.resolve(next);
      },
      updateExisting: (userName, change) => {
        const current = records.get(userName);
        if (!current) return Promise.resolve(undefined);
        const next = change(current);
        records.set(userName, next);
        return Promise.resolve(next);
      },
    },
    sessionKey: Buffer.alloc(32, 7),
    signing: { privateKey, certificatePem: "", certificateBase64: "" },
    // Unit tests sign nothing an SP checks; every application gets this one throwaway key.
    applicationKeys: {
      signingFor: () => Promise.resolve({ privateKey, certificatePem: "", certificateBase64: "" }),
    },
    stsEndpoint: undefined,
    region: "us-east-1",
    log: pino({ level: "silent" }),
    ...(options.now ? { now: options.now } : {}),
    ...(options.sessionRecords ? { sessionRecords: options.sessionRecords } : {}),
  };
  const context = new PortalContext(deps);
  return {
    deps,
    context,
    stores,
    records,
    addInstance(ic: IdentityCenter = identityCenter()) {
      stores.identityCenters.informer.put(ic);
    },
    addUser(user: User) {
      users.put(user);
      directory.updateUser(undefined, user);
    } /**
     * A bare Fastify app with cookies and the portal context, to register one plugin under
     * test; with `pages`, also the headers and views that HTML pages need.
     */,
    app(options: { pages?: boolean } = {}) {
      const app = Fastify({ loggerInstance: deps.log });
      void app.register(cookie);
      void app.register(portalContext, { context });
      if (options.pages) {
        void app.register(securityHeaders);
        void app.register(views);
      }
      return app;
    },
  };
}
