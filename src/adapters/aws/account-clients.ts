import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromTemporaryCredentials } from "@aws-sdk/credential-providers";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types";
import { countCalls, type AwsCallMetrics } from "./call-metrics.ts";
import { IamGateway } from "./iam-gateway.ts";

/** Credentials are renewed this long before they expire, so no call starts with stale ones. */
const REFRESH_BEFORE_MS = 5 * 60_000;
const SESSION_SECONDS = 3600;
/** Attempts per STS call (throttling, 5xx, timeouts, resets are retried by the SDK). */
const STS_ATTEMPTS = 3;

export interface AccessRole {
  roleArn: string;
  externalId?: string | undefined;
}

export interface AwsClientSettings {
  region: string;
  /** Endpoint override for IAM and STS (tests and the local stack point it at moto). */
  endpoint?: string | undefined;
  /** Longest wait for a TCP (and TLS) connection to an AWS endpoint. */
  connectTimeoutMs: number;
  /** Longest wait for one request's whole response, once connected. */
  requestTimeoutMs: number;
  /** IAM calls in flight per account at once. */
  concurrencyPerAccount: number;
  metrics: AwsCallMetrics;
}

/**
 * An HTTP handler whose every request ends: an endpoint that accepts a connection and never
 * answers (a black-holed account, a dead NAT) fails the attempt with a TimeoutError after
 * `requestTimeoutMs`, which the SDK retries like any transient error and then reports.
 * Without throwOnRequestTimeout the handler would only log a warning and keep waiting.
 */
export function awsRequestHandler(settings: {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}): NodeHttpHandler {
  return new NodeHttpHandler({
    connectionTimeout: settings.connectTimeoutMs,
    requestTimeout: settings.requestTimeoutMs,
    throwOnRequestTimeout: true,
    // A socket that goes quiet mid-response is as stuck as one that never answered.
    socketTimeout: settings.requestTimeoutMs,
  });
}

/** Thrown when the access role cannot be assumed; keeps the STS error as `cause`. */
export class AssumeRoleError extends Error {
  override readonly name = "AssumeRoleError";
  constructor(roleArn: string, cause: unknown) {
    super(
      `cannot assume ${roleArn}: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`,
      { cause },
    );
  }
}

/**
 * One AWS account as the operator sees it: temporary credentials from sts:AssumeRole of its
 * access role, one IAM gateway and one STS client that share them and one HTTP handler (its
 * own sockets, so an account that hangs cannot use up another account's connections).
 * Built once per access role and reused by every reconcile.
 */
export class AccountClient {
  readonly iam: IamGateway;
  private readonly sts: STSClient;
  private readonly assume: AwsCredentialIdentityProvider;
  private cached: Promise<AwsCredentialIdentity> | undefined;
  private readonly role: AccessRole;

  constructor(
    role: AccessRole,
    settings: AwsClientSettings,
    masterSts: { requestHandler: NodeHttpHandler },
  ) {
    this.role = role;
    const requestHandler = awsRequestHandler(settings);
    const endpoint = settings.endpoint ? { endpoint: settings.endpoint } : {};
    // fromTemporaryCredentials builds one STS client (with the controller's own credentials
    // from the default chain) on first use and keeps it; it does not cache the credentials,
    // which `credentials()` below does for both of this account's clients.
    this.assume = fromTemporaryCredentials({
      params: {
        RoleArn: role.roleArn,
        RoleSessionName: "identity-center-operator",
        DurationSeconds: SESSION_SECONDS,
        ...(role.externalId ? { ExternalId: role.externalId } : {}),
      },
      clientConfig: {
        region: settings.region,
        maxAttempts: STS_ATTEMPTS,
        requestHandler: masterSts.requestHandler,
        ...endpoint,
      },
    });
    const credentials = () => this.credentials();
    this.sts = new STSClient({
      region: settings.region,
      credentials,
      maxAttempts: STS_ATTEMPTS,
      requestHandler,
      ...endpoint,
    });
    countCalls(this.sts, "sts", settings.metrics);
    this.iam = new IamGateway({
      credentials,
      region: settings.region,
      endpoint: settings.endpoint,
      metrics: settings.metrics,
      concurrency: settings.concurrencyPerAccount,
      requestHandler,
    });
  }

  /**
   * Current credentials; concurrent callers share one AssumeRole. A failure is not cached,
   * and is thrown as AssumeRoleError, which the SDK does not retry again: the STS client
   * already did, and retrying it under every IAM attempt would multiply the wait.
   */
  async credentials(): Promise<AwsCredentialIdentity> {
    const current = this.cached;
    if (current) {
      const c = await current.catch(() => undefined);
      if (c?.expiration && c.expiration.getTime() - Date.now() > REFRESH_BEFORE_MS) return c;
      // Another caller may have started the renewal while this one waited.
      if (this.cached && this.cached !== current) return this.cached;
    }
    return this.renew();
  }

  private renew(): Promise<AwsCredentialIdentity> {
    const next = this.assume().then(
      (c) => ({ ...c, expiration: c.expiration ?? new Date(Date.now() + SESSION_SECONDS * 1000) }),
      (err: unknown) => {
        throw new AssumeRoleError(this.role.roleArn, err);
      },
    );
    this.cached = next;
    next.catch(() => {
      if (this.cached === next) this.cached = undefined;
    });
    return next;
  }

  /** Drops cached credentials (after the role was refused), so the next call assumes again. */
  forgetCredentials(): void {
    this.cached = undefined;
  }

  /** The account the role's credentials act in, from sts:GetCallerIdentity. */
  async callerAccount(): Promise<string | undefined> {
    const out = await this.sts.send(new GetCallerIdentityCommand({}));
    return out.Account;
  }
}

/** Every account's clients, one set per access role, made on first use. */
export class AccountClients {
  private readonly settings: AwsClientSettings;
  private readonly clients = new Map<string, AccountClient>();
  // The controller's own STS traffic (AssumeRole) has its own sockets too.
  private readonly masterSts: { requestHandler: NodeHttpHandler };

  constructor(settings: AwsClientSettings) {
    this.settings = settings;
    this.masterSts = { requestHandler: awsRequestHandler(settings) };
  }

  get concurrencyPerAccount(): number {
    return this.settings.concurrencyPerAccount;
  }

  forRole(role: AccessRole): AccountClient {
    const key = `${role.roleArn}|${role.externalId ?? ""}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new AccountClient(role, this.settings, this.masterSts);
      this.clients.set(key, client);
    }
    return client;
  }
}
