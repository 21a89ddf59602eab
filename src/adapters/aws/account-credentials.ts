import {
  AssumeRoleCommand,
  GetCallerIdentityCommand,
  STSClient,
  type STSClientConfig,
} from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity } from "@smithy/types";

const REFRESH_BEFORE_MS = 5 * 60_000;

export interface AccessRole {
  roleArn: string;
  externalId?: string | undefined;
}

/**
 * Temporary credentials for member accounts: sts:AssumeRole with the controller's own
 * credentials (the SDK's default chain: env, IRSA, Pod Identity, ...), cached per role and
 * refreshed five minutes before they expire. Concurrent callers share one AssumeRole call.
 */
export class AccountCredentials {
  private readonly sts: STSClient;
  private readonly cache = new Map<string, Promise<AwsCredentialIdentity>>();
  private readonly clientConfig: STSClientConfig;

  constructor(clientConfig: STSClientConfig) {
    this.clientConfig = clientConfig;
    this.sts = new STSClient(clientConfig);
  }

  private key(role: AccessRole): string {
    return `${role.roleArn}|${role.externalId ?? ""}`;
  }

  async get(role: AccessRole): Promise<AwsCredentialIdentity> {
    const key = this.key(role);
    const cached = this.cache.get(key);
    if (cached) {
      const creds = await cached.catch(() => undefined);
      if (creds?.expiration && creds.expiration.getTime() - Date.now() > REFRESH_BEFORE_MS)
        return creds;
    }
    const fresh = this.assume(role);
    this.cache.set(key, fresh);
    fresh.catch(() => this.cache.delete(key));
    return fresh;
  }

  /** A credentials provider for SDK clients that always returns current credentials. */
  provider(role: AccessRole): () => Promise<AwsCredentialIdentity> {
    return () => this.get(role);
  }

  forget(role: AccessRole): void {
    this.cache.delete(this.key(role));
  }

  private async assume(role: AccessRole): Promise<AwsCredentialIdentity> {
    const out = await this.sts.send(
      new AssumeRoleCommand({
        RoleArn: role.roleArn,
        RoleSessionName: "identity-center-operator",
        DurationSeconds: 3600,
        ...(role.externalId ? { ExternalId: role.externalId } : {}),
      }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken)
      throw new Error(`AssumeRole ${role.roleArn} returned no credentials`);
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration: c.Expiration ?? new Date(Date.now() + 3600_000),
    };
  }

  /** The account the role's credentials act in, from sts:GetCallerIdentity. */
  async callerAccount(role: AccessRole): Promise<string | undefined> {
    const client = new STSClient({ ...this.clientConfig, credentials: this.provider(role) });
    const out = await client.send(new GetCallerIdentityCommand({}));
    return out.Account;
  }
}
