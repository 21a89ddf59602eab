import { describe, expect, it } from "vitest";
import { account, assignment, permissionSet } from "../testing/gen.ts";
import { planAccountRoles, type DesiredRole } from "./desired-roles.ts";
import { matchesSelector } from "./label-selector.ts";
import { INLINE_POLICY_NAME, roleName } from "./naming.ts";
import { diffRoles, type ObservedRole } from "./role-diff.ts";

const instance = {
  name: "default",
  partition: "aws",
  signInUrl: "https://signin.aws.amazon.com/saml",
};
const prod = account("production", "111111111111", { ou: "workloads", env: "prod" });
const samlProviderArn = "arn:aws:iam::111111111111:saml-provider/IdentityCenterOperator_default";

function plan(
  permissionSets = [permissionSet("read-only")],
  assignments = [assignment("a", "read-only", { accounts: ["production"] })],
) {
  return planAccountRoles({
    instance,
    account: prod,
    samlProviderArn,
    permissionSets,
    assignments,
    accounts: [prod],
    previous: [],
    ownedPermissionSets: [],
  });
}

/** What IAM would report for a role created exactly as desired. */
function observedFrom(role: DesiredRole): ObservedRole {
  return {
    roleName: role.roleName,
    arn: `arn:aws:iam::111111111111:role${role.path}${role.roleName}`,
    path: role.path,
    description: role.description,
    maxSessionDuration: role.maxSessionDuration,
    trustPolicy: encodeURIComponent(JSON.stringify(role.trustPolicy)),
    attachedPolicyArns: [...role.managedPolicyArns].reverse(),
    inlinePolicies: role.inlinePolicy
      ? { [INLINE_POLICY_NAME]: encodeURIComponent(JSON.stringify(role.inlinePolicy)) }
      : {},
    permissionsBoundaryArn: role.permissionsBoundaryArn,
    tags: { ...role.tags },
  };
}

describe("planAccountRoles", () => {
  it.each([
    { name: "by object name", target: { accounts: ["production"] }, roles: 1 },
    { name: "by account id", target: { accounts: ["111111111111"] }, roles: 1 },
    {
      name: "by selector",
      target: { accountSelector: { matchLabels: { ou: "workloads" } } },
      roles: 1,
    },
    { name: "another account", target: { accounts: ["staging"] }, roles: 0 },
    {
      name: "non-matching selector",
      target: { accountSelector: { matchLabels: { ou: "security" } } },
      roles: 0,
    },
  ])("targets $name -> $roles role(s)", ({ target, roles }) => {
    expect(plan(undefined, [assignment("a", "read-only", target)]).roles).toHaveLength(roles);
  });

  it("makes one role per permission set however many assignments target it", () => {
    const result = plan(undefined, [
      assignment("a", "read-only", { accounts: ["production"] }),
      assignment("b", "read-only", { accountSelector: { matchLabels: { env: "prod" } } }),
    ]);
    expect(result.roles.map((r) => r.roleName)).toEqual([
      roleName("default", "read-only", "read-only"),
    ]);
  });

  it("builds the role: name, trust, session, policies, boundary, tags", () => {
    const ps = permissionSet("admin", (p) => {
      p.spec.name = "AdministratorAccess";
      p.spec.sessionDuration = "PT4H";
      p.spec.customerManagedPolicies = [{ name: "Extra", path: "/team/" }];
      p.spec.permissionsBoundary = { managedPolicyArn: "arn:aws:iam::aws:policy/PowerUserAccess" };
      p.spec.tags = { team: "platform" };
    });
    const [role] = plan([ps], [assignment("a", "admin", { accounts: ["production"] })]).roles;
    expect(role?.roleName).toMatch(/^IdC_AdministratorAccess_[0-9a-f]{16}$/);
    expect(role?.roleName.length).toBeLessThanOrEqual(64);
    expect(role?.maxSessionDuration).toBe(14400);
    expect(role?.managedPolicyArns).toEqual([
      "arn:aws:iam::111111111111:policy/team/Extra",
      "arn:aws:iam::aws:policy/ReadOnlyAccess",
    ]);
    expect(role?.customerManagedPolicyArns).toEqual([
      "arn:aws:iam::111111111111:policy/team/Extra",
    ]);
    expect(role?.permissionsBoundaryArn).toBe("arn:aws:iam::aws:policy/PowerUserAccess");
    expect(role?.tags).toMatchObject({
      team: "platform",
      "identitycenter.dev/managed-by": "identity-center-operator",
    });
    expect(role?.trustPolicy).toMatchObject({
      Statement: [
        {
          Principal: { Federated: samlProviderArn },
          Action: ["sts:AssumeRoleWithSAML", "sts:TagSession"],
          Condition: { StringEquals: { "SAML:aud": instance.signInUrl } },
        },
      ],
    });
  });

  it("reports an oversized permission set and an assignment of a missing one, with no role", () => {
    const huge = permissionSet("huge", (p) => {
      p.spec.inlinePolicy = {
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: `s3:${"x".repeat(11_000)}`, Resource: "*" }],
      };
    });
    const result = plan(
      [huge],
      [
        assignment("a", "huge", { accounts: ["production"] }),
        assignment("b", "ghost", { accounts: ["production"] }),
      ],
    );
    expect(result.roles).toEqual([]);
    expect(result.pairs.map((f) => [f.permissionSet, f.problem?.reason, f.holds])).toEqual([
      ["ghost", "PermissionSetNotFound", false],
      ["huge", "InvalidPolicy", true],
    ]);
    expect(result.pairs[1]?.problem?.message).toMatch(/non-whitespace characters/);
  });
});

describe("diffRoles", () => {
  const [desired] = plan(
    [
      permissionSet("ps", (p) => {
        p.spec.inlinePolicy = {
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }],
        };
        p.spec.managedPolicies = [
          "arn:aws:iam::aws:policy/ReadOnlyAccess",
          "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
        ];
      }),
    ],
    [assignment("a", "ps", { accounts: ["production"] })],
  ).roles;
  if (!desired) throw new Error("no role planned");

  it("creates a missing role, puts the inline policy (what IAM may refuse) first, then attaches", () => {
    const [p] = diffRoles([desired], []);
    expect(p?.actions.map((a) => a.type)).toEqual([
      "createRole",
      "putRolePolicy",
      "attachRolePolicy",
      "attachRolePolicy",
    ]);
  });

  it("does nothing when IAM already matches (steady state makes zero writes)", () => {
    expect(diffRoles([desired], [observedFrom(desired)])).toEqual([]);
  });

  it.each([
    {
      name: "a detached policy is re-attached",
      drift: (o: ObservedRole) => ({ ...o, attachedPolicyArns: o.attachedPolicyArns.slice(1) }),
      actions: ["attachRolePolicy"],
    },
    {
      name: "an extra policy is detached",
      drift: (o: ObservedRole) => ({
        ...o,
        attachedPolicyArns: [
          ...o.attachedPolicyArns,
          "arn:aws:iam::aws:policy/AdministratorAccess",
        ],
      }),
      actions: ["detachRolePolicy"],
    },
    {
      name: "an edited trust policy is restored",
      drift: (o: ObservedRole) => ({
        ...o,
        trustPolicy: JSON.stringify({ Version: "2012-10-17", Statement: [] }),
      }),
      actions: ["updateAssumeRolePolicy"],
    },
    {
      name: "a changed session length is restored",
      drift: (o: ObservedRole) => ({ ...o, maxSessionDuration: 7200 }),
      actions: ["updateRole"],
    },
    {
      name: "a removed inline policy is put back",
      drift: (o: ObservedRole) => ({ ...o, inlinePolicies: {} }),
      actions: ["putRolePolicy"],
    },
    {
      name: "a foreign inline policy is removed",
      drift: (o: ObservedRole) => ({ ...o, inlinePolicies: { ...o.inlinePolicies, Sneaky: "{}" } }),
      actions: ["deleteRolePolicy"],
    },
    {
      name: "an added boundary is removed",
      drift: (o: ObservedRole) => ({
        ...o,
        permissionsBoundaryArn: "arn:aws:iam::aws:policy/PowerUserAccess",
      }),
      actions: ["deleteRolePermissionsBoundary"],
    },
    {
      name: "a changed tag is reset and an extra one removed",
      drift: (o: ObservedRole) => ({
        ...o,
        tags: { ...o.tags, "identitycenter.dev/permission-set": "x", extra: "1" },
      }),
      actions: ["tagRole", "untagRole"],
    },
  ])("repairs drift: $name", ({ drift, actions }) => {
    const [p] = diffRoles([desired], [drift(observedFrom(desired))]);
    expect(p?.actions.map((a) => a.type)).toEqual(actions);
  });

  it("deletes a role no longer desired: detach and delete inline before delete", () => {
    const [p] = diffRoles([], [observedFrom(desired)]);
    expect(p?.actions.map((a) => a.type)).toEqual([
      "detachRolePolicy",
      "detachRolePolicy",
      "deleteRolePolicy",
      "deleteRole",
    ]);
  });

  it("leaves the roles of frozen permission sets alone, present or not", () => {
    expect(diffRoles([desired], [], new Set(["ps"]))).toEqual([]);
    expect(diffRoles([], [observedFrom(desired)], new Set(["ps"]))).toEqual([]);
    // Also a role of the set under an older name (the set's display name changed).
    const renamed = { ...observedFrom(desired), roleName: "IdC_Old_0000000000000000" };
    expect(diffRoles([], [renamed], new Set(["ps"]))).toEqual([]);
  });

  it("orders an update: inline policy first, removals last", () => {
    const drifted: ObservedRole = {
      ...observedFrom(desired),
      inlinePolicies: {},
      attachedPolicyArns: ["arn:aws:iam::aws:policy/AdministratorAccess"],
    };
    const [p] = diffRoles([desired], [drifted]);
    expect(p?.actions.map((a) => a.type)).toEqual([
      "putRolePolicy",
      "attachRolePolicy",
      "attachRolePolicy",
      "detachRolePolicy",
    ]);
  });
});

describe("matchesSelector", () => {
  const labels = { env: "prod", ou: "workloads" };
  it.each([
    { selector: { matchLabels: { env: "prod" } }, match: true },
    { selector: { matchLabels: { env: "dev" } }, match: false },
    {
      selector: {
        matchExpressions: [{ key: "env", operator: "In" as const, values: ["prod", "dev"] }],
      },
      match: true,
    },
    {
      selector: {
        matchExpressions: [{ key: "env", operator: "NotIn" as const, values: ["prod"] }],
      },
      match: false,
    },
    {
      selector: { matchExpressions: [{ key: "tier", operator: "NotIn" as const, values: ["x"] }] },
      match: true,
    },
    { selector: { matchExpressions: [{ key: "ou", operator: "Exists" as const }] }, match: true },
    {
      selector: { matchExpressions: [{ key: "ou", operator: "DoesNotExist" as const }] },
      match: false,
    },
    {
      selector: {
        matchLabels: { env: "prod" },
        matchExpressions: [{ key: "ou", operator: "In" as const, values: ["security"] }],
      },
      match: false,
    },
  ])("$selector -> $match", ({ selector, match }) => {
    expect(matchesSelector(selector, labels)).toBe(match);
  });
});
