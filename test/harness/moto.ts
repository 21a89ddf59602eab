import path from "node:path";
import { AttachRolePolicyCommand, CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity } from "@smithy/types";
import { toolsDir } from "./paths.ts";
import { freePort } from "./ports.ts";
import { startServer, waitUntil, type ServerProcess } from "./process.ts";

/** The account moto puts requests in when their keys are not ones it issued. */
export const MANAGEMENT_ACCOUNT_ID = "123456789012";
export const ACCESS_ROLE_NAME = "OrganizationAccountAccessRole";
export const REGION = "us-east-1";

/**
 * A moto server (IAM + STS emulator) on a free loopback port, with AWS managed policies loaded.
 * Calls signed with the management credentials act on account 123456789012; credentials from
 * sts:AssumeRole into another account's role act on that account.
 */
export class MotoServer {
  readonly managementCredentials: AwsCredentialIdentity = {
    accessKeyId: "AKIAIOSFODNN7EXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  };

  readonly endpoint: string;
  private readonly server: ServerProcess;

  private constructor(server: ServerProcess, endpoint: string) {
    this.server = server;
    this.endpoint = endpoint;
  }

  /**
   * moto runs through tools/moto-server.py, which builds accounts faster (no backend per
   * partition to find one, AWS managed policies parsed once). `manyAccounts` (benchmarks with
   * hundreds of accounts) also gives each account only the named AWS managed policies instead of
   * moto's whole catalogue.
   */
  static async start(
    binary: string,
    workDir: string,
    options: { manyAccounts?: { awsManagedPolicies: readonly string[] } } = {},
  ): Promise<MotoServer> {
    const port = await freePort();
    const many = options.manyAccounts;
    const server = await startServer({
      name: "moto",
      // moto_server is a script of its virtualenv: the python beside it has moto installed.
      command: path.join(path.dirname(binary), "python3"),
      args: [path.join(toolsDir, "moto-server.py"), "-H", "127.0.0.1", "-p", String(port)],
      logDir: workDir,
      // Never MOTO_ACCOUNT_ID: it would override moto's routing by access key.
      env: {
        MOTO_IAM_LOAD_MANAGED_POLICIES: "true",
        ...(many ? { IDC_MOTO_AWS_MANAGED_POLICIES: many.awsManagedPolicies.join(",") } : {}),
      },
    });
    const endpoint = `http://127.0.0.1:${port}`;
    await waitUntil(server, async () => (await fetch(`${endpoint}/moto-api/`)).ok, 60_000);
    return new MotoServer(server, endpoint);
  }

  /** The process moto runs under (its guard script; moto is a child of it). */
  get pid(): number | undefined {
    return this.server.pid;
  }

  clientConfig(credentials: AwsCredentialIdentity = this.managementCredentials) {
    return { endpoint: this.endpoint, region: REGION, credentials };
  }

  iam(credentials?: AwsCredentialIdentity): IAMClient {
    return new IAMClient(this.clientConfig(credentials));
  }

  sts(credentials?: AwsCredentialIdentity): STSClient {
    return new STSClient(this.clientConfig(credentials));
  }

  accessRoleArn(accountId: string): string {
    return `arn:aws:iam::${accountId}:role/${ACCESS_ROLE_NAME}`;
  }

  /** Credentials for a member account, by assuming its access role from the management account. */
  async assumeInto(accountId: string, sessionName = "idc-test"): Promise<AwsCredentialIdentity> {
    const out = await this.sts().send(
      new AssumeRoleCommand({
        RoleArn: this.accessRoleArn(accountId),
        RoleSessionName: sessionName,
      }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) {
      throw new Error(`AssumeRole into ${accountId} returned no credentials`);
    }
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      ...(c.Expiration ? { expiration: c.Expiration } : {}),
    };
  }

  /**
   * Makes a member account look like one AWS Organizations creates: an access role trusted by
   * the management account, with AdministratorAccess. Returns an IAM client for the account.
   */
  async createMemberAccount(accountId: string, roleName = ACCESS_ROLE_NAME): Promise<IAMClient> {
    const iam = this.iam(await this.assumeInto(accountId, "bootstrap"));
    await iam.send(
      new CreateRoleCommand({
        RoleName: roleName,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { AWS: `arn:aws:iam::${MANAGEMENT_ACCOUNT_ID}:root` },
              Action: "sts:AssumeRole",
            },
          ],
        }),
      }),
    );
    await iam.send(
      new AttachRolePolicyCommand({
        RoleName: roleName,
        PolicyArn: "arn:aws:iam::aws:policy/AdministratorAccess",
      }),
    );
    return iam;
  }

  /** Wipes every account's state. */
  async reset(): Promise<void> {
    const res = await fetch(`${this.endpoint}/moto-api/reset`, { method: "POST" });
    if (!res.ok) throw new Error(`moto reset failed: ${res.status}`);
  }

  async stop(): Promise<void> {
    await this.server.stop();
  }
}
