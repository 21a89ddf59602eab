import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  CreateSAMLProviderCommand,
  DeleteRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DeleteSAMLProviderCommand,
  DetachRolePolicyCommand,
  GetAccountSummaryCommand,
  GetPolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetSAMLProviderCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListSAMLProvidersCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UntagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleCommand,
  UpdateSAMLProviderCommand,
  type Role,
} from "@aws-sdk/client-iam";
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import { INSTANCE_KEY, MANAGED_BY, ROLE_PATH, TAG_MANAGED_BY } from "../../plan/naming.ts";
import type { ObservedRole, RoleAction } from "../../plan/role-diff.ts";
import { mapLimit } from "../../util/concurrency.ts";
import type { NodeHttpHandler } from "@smithy/node-http-handler";
import { countCalls, type AwsCallMetrics } from "./call-metrics.ts";
import { classifyAwsError } from "./errors.ts";

export interface IamGatewayOptions {
  credentials: AwsCredentialIdentityProvider;
  region: string;
  endpoint?: string | undefined;
  metrics: AwsCallMetrics;
  /** IAM calls in flight for this account at once. */
  concurrency: number;
  /** The account's HTTP handler, with its connect and request timeouts. */
  requestHandler: NodeHttpHandler;
}

/** An account's SAML provider as IAM holds it. */
export interface SamlProvider {
  arn: string;
  metadata: string;
}

const isRead = (operation: string) => /^(Get|List)/.test(operation);

/**
 * IAM in one account, for the operator's roles and SAML provider only. Every call is counted
 * by operation and outcome; throttling, 5xx, timeouts and resets are retried by the SDK
 * (exponential backoff with jitter, 8 attempts), each attempt bounded by the handler's timeouts.
 */
export class IamGateway {
  private readonly iam: IAMClient;
  private readonly concurrency: number;
  writes = 0;

  constructor(options: IamGatewayOptions) {
    this.concurrency = options.concurrency;
    this.iam = new IAMClient({
      region: options.region,
      credentials: options.credentials,
      maxAttempts: 8,
      requestHandler: options.requestHandler,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    });
    countCalls(this.iam, "iam", options.metrics, (operation) => {
      if (!isRead(operation)) this.writes++;
    });
  }

  /** Roles under our path that carry our ownership tags for this instance, fully read. */
  async readOwnedRoles(instance: string): Promise<ObservedRole[]> {
    const listed: Role[] = [];
    let marker: string | undefined;
    do {
      const page = await this.iam.send(
        new ListRolesCommand({ PathPrefix: ROLE_PATH, ...(marker ? { Marker: marker } : {}) }),
      );
      listed.push(...(page.Roles ?? []));
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    const roles = await mapLimit(listed, this.concurrency, (r) =>
      this.readRole(r.RoleName ?? "", instance),
    );
    return roles.filter((r): r is ObservedRole => r !== undefined);
  }

  /** One owned role, fully read; undefined when it does not exist or is not ours. */
  async readOwnedRole(roleName: string, instance: string): Promise<ObservedRole | undefined> {
    return this.readRole(roleName, instance);
  }

  /** The account's IAM quotas that a plan can run into half-way (GetAccountSummary, a read). */
  async quotas(): Promise<{
    attachedPoliciesPerRole?: number | undefined;
    rolesQuota?: number | undefined;
    roles?: number | undefined;
  }> {
    const summary = (await this.iam.send(new GetAccountSummaryCommand({}))).SummaryMap ?? {};
    return {
      attachedPoliciesPerRole: summary.AttachedPoliciesPerRoleQuota,
      rolesQuota: summary.RolesQuota,
      roles: summary.Roles,
    };
  }

  private async readRole(roleName: string, instance: string): Promise<ObservedRole | undefined> {
    let role: Role | undefined;
    try {
      role = (await this.iam.send(new GetRoleCommand({ RoleName: roleName }))).Role;
    } catch (err) {
      if (classifyAwsError(err) === "notFound") return undefined; // deleted meanwhile
      throw err;
    }
    if (!role) return undefined;
    const tags = Object.fromEntries((role.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
    // Ownership must be provable: our path alone is not enough.
    if (tags[TAG_MANAGED_BY] !== MANAGED_BY || tags[INSTANCE_KEY] !== instance) return undefined;
    const [attached, inlineNames] = await Promise.all([
      this.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName })),
      this.iam.send(new ListRolePoliciesCommand({ RoleName: roleName })),
    ]);
    const inlinePolicies: Record<string, string> = {};
    for (const policyName of inlineNames.PolicyNames ?? []) {
      const doc = await this.iam.send(
        new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }),
      );
      inlinePolicies[policyName] = doc.PolicyDocument ?? "{}";
    }
    return {
      roleName,
      arn: role.Arn ?? "",
      path: role.Path ?? "/",
      description: role.Description ?? "",
      maxSessionDuration: role.MaxSessionDuration ?? 3600,
      trustPolicy: role.AssumeRolePolicyDocument ?? "{}",
      attachedPolicyArns: (attached.AttachedPolicies ?? []).map((p) => p.PolicyArn ?? ""),
      inlinePolicies,
      permissionsBoundaryArn: role.PermissionsBoundary?.PermissionsBoundaryArn,
      tags,
    };
  }

  async policyExists(arn: string): Promise<boolean> {
    try {
      await this.iam.send(new GetPolicyCommand({ PolicyArn: arn }));
      return true;
    } catch (err) {
      if (classifyAwsError(err) === "notFound") return false;
      throw err;
    }
  }

  /** The SAML provider of that name and the metadata it holds; null when there is none. */
  async readSamlProvider(name: string): Promise<SamlProvider | null> {
    const list = await this.iam.send(new ListSAMLProvidersCommand({}));
    const arn = (list.SAMLProviderList ?? [])
      .map((p) => p.Arn ?? "")
      .find((a) => a.endsWith(`:saml-provider/${name}`));
    if (!arn) return null;
    const current = await this.iam.send(new GetSAMLProviderCommand({ SAMLProviderArn: arn }));
    return { arn, metadata: current.SAMLMetadataDocument ?? "" };
  }

  /**
   * Creates or updates the SAML provider so it holds `metadata`; never makes a second one.
   * `current` is what readSamlProvider found (null: none; read now when not given).
   */
  async ensureSamlProvider(
    name: string,
    metadata: string,
    current?: SamlProvider | null,
  ): Promise<string> {
    const found = current === undefined ? await this.readSamlProvider(name) : current;
    if (!found) {
      const created = await this.iam.send(
        new CreateSAMLProviderCommand({ Name: name, SAMLMetadataDocument: metadata }),
      );
      return created.SAMLProviderArn ?? "";
    }
    if (found.metadata !== metadata) {
      await this.iam.send(
        new UpdateSAMLProviderCommand({
          SAMLProviderArn: found.arn,
          SAMLMetadataDocument: metadata,
        }),
      );
    }
    return found.arn;
  }

  async deleteSamlProvider(name: string): Promise<void> {
    const list = await this.iam.send(new ListSAMLProvidersCommand({}));
    const arn = (list.SAMLProviderList ?? [])
      .map((p) => p.Arn ?? "")
      .find((a) => a.endsWith(`:saml-provider/${name}`));
    if (arn) await this.iam.send(new DeleteSAMLProviderCommand({ SAMLProviderArn: arn }));
  }

  /** Applies one action; returns the role ARN when the action created the role. */
  async apply(action: RoleAction): Promise<string | undefined> {
    switch (action.type) {
      case "createRole": {
        const r = action.role;
        const out = await this.iam.send(
          new CreateRoleCommand({
            RoleName: r.roleName,
            Path: r.path,
            Description: r.description,
            MaxSessionDuration: r.maxSessionDuration,
            AssumeRolePolicyDocument: JSON.stringify(r.trustPolicy),
            ...(r.permissionsBoundaryArn ? { PermissionsBoundary: r.permissionsBoundaryArn } : {}),
            Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
          }),
        );
        return out.Role?.Arn;
      }
      case "updateAssumeRolePolicy":
        await this.iam.send(
          new UpdateAssumeRolePolicyCommand({
            RoleName: action.roleName,
            PolicyDocument: JSON.stringify(action.document),
          }),
        );
        return undefined;
      case "updateRole":
        await this.iam.send(
          new UpdateRoleCommand({
            RoleName: action.roleName,
            Description: action.description,
            MaxSessionDuration: action.maxSessionDuration,
          }),
        );
        return undefined;
      case "attachRolePolicy":
        await this.iam.send(
          new AttachRolePolicyCommand({ RoleName: action.roleName, PolicyArn: action.policyArn }),
        );
        return undefined;
      case "detachRolePolicy":
        await this.ignoreNotFound(
          this.iam.send(
            new DetachRolePolicyCommand({ RoleName: action.roleName, PolicyArn: action.policyArn }),
          ),
        );
        return undefined;
      case "putRolePolicy":
        await this.iam.send(
          new PutRolePolicyCommand({
            RoleName: action.roleName,
            PolicyName: action.policyName,
            PolicyDocument: JSON.stringify(action.document),
          }),
        );
        return undefined;
      case "deleteRolePolicy":
        await this.ignoreNotFound(
          this.iam.send(
            new DeleteRolePolicyCommand({
              RoleName: action.roleName,
              PolicyName: action.policyName,
            }),
          ),
        );
        return undefined;
      case "putRolePermissionsBoundary":
        await this.iam.send(
          new PutRolePermissionsBoundaryCommand({
            RoleName: action.roleName,
            PermissionsBoundary: action.policyArn,
          }),
        );
        return undefined;
      case "deleteRolePermissionsBoundary":
        await this.ignoreNotFound(
          this.iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: action.roleName })),
        );
        return undefined;
      case "tagRole":
        await this.iam.send(
          new TagRoleCommand({
            RoleName: action.roleName,
            Tags: Object.entries(action.tags).map(([Key, Value]) => ({ Key, Value })),
          }),
        );
        return undefined;
      case "untagRole":
        await this.iam.send(
          new UntagRoleCommand({ RoleName: action.roleName, TagKeys: action.keys }),
        );
        return undefined;
      case "deleteRole":
        await this.ignoreNotFound(
          this.iam.send(new DeleteRoleCommand({ RoleName: action.roleName })),
        );
        return undefined;
    }
  }

  private async ignoreNotFound(call: Promise<unknown>): Promise<void> {
    try {
      await call;
    } catch (err) {
      if (classifyAwsError(err) !== "notFound") throw err;
    }
  }
}
