import { AssumeRoleWithSAMLCommand, STSClient } from "@aws-sdk/client-sts";
import { awsRequestHandler } from "./account-clients.ts";

/** How long the portal waits for STS: a connection, then the whole answer. */
export interface StsTimeouts {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

/** The controller's defaults (--aws-connect-timeout, --aws-request-timeout). */
export const DEFAULT_STS_TIMEOUTS: StsTimeouts = {
  connectTimeoutMs: 5_000,
  requestTimeoutMs: 15_000,
};

/** Thrown when STS did not answer within the timeouts (after the SDK's retries). */
export class StsTimeoutError extends Error {
  override readonly name = "StsTimeoutError";
}

export interface SamlCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date | undefined;
}

/**
 * AssumeRoleWithSAML for the portal: one STS client per endpoint, reused, each with connect and
 * request timeouts, so an STS that accepts a connection and never answers (a black-holed
 * endpoint, a dead proxy) ends the user's request with an error page instead of holding it,
 * and its socket, for ever. The call needs no AWS credentials: the assertion is the proof.
 */
export class SamlStsClients {
  private readonly clients = new Map<string, STSClient>();
  private readonly region: string;
  private readonly timeouts: StsTimeouts;

  constructor(region: string, timeouts: StsTimeouts = DEFAULT_STS_TIMEOUTS) {
    this.region = region;
    this.timeouts = timeouts;
  }

  private client(endpoint: string | undefined): STSClient {
    const key = endpoint ?? "";
    let client = this.clients.get(key);
    if (!client) {
      client = new STSClient({
        region: this.region,
        ...(endpoint ? { endpoint } : {}),
        credentials: { accessKeyId: "unused", secretAccessKey: "unused" },
        requestHandler: awsRequestHandler(this.timeouts),
        maxAttempts: 2,
      });
      this.clients.set(key, client);
    }
    return client;
  }

  async assumeRoleWithSaml(input: {
    endpoint: string | undefined;
    roleArn: string;
    principalArn: string;
    assertion: string;
  }): Promise<SamlCredentials> {
    let out;
    try {
      out = await this.client(input.endpoint).send(
        new AssumeRoleWithSAMLCommand({
          RoleArn: input.roleArn,
          PrincipalArn: input.principalArn,
          SAMLAssertion: input.assertion,
        }),
      );
    } catch (err) {
      if (err instanceof Error && err.name === "TimeoutError")
        throw new StsTimeoutError("STS did not answer in time", { cause: err });
      throw err;
    }
    const c = out.Credentials;
    return {
      accessKeyId: c?.AccessKeyId ?? "",
      secretAccessKey: c?.SecretAccessKey ?? "",
      sessionToken: c?.SessionToken ?? "",
      expiration: c?.Expiration,
    };
  }

  close(): void {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
  }
}
