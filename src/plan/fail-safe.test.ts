import { describe, expect, it } from "vitest";
import type { Account, AccountAssignment, PermissionSet } from "../api/v1alpha1/index.ts";
import { account, assignment, permissionSet } from "../testing/gen.ts";
import {
  duplicateAccountProblem,
  planAccountRoles,
  type DesiredRole,
  type PreviousPair,
} from "./desired-roles.ts";
import { INLINE_POLICY_NAME } from "./naming.ts";
import { malformedPolicyProblem } from "./policy-document.ts";
import {
  diffRoles,
  preflightProblems,
  referencedPolicyArns,
  restoreActions,
  type ObservedRole,
} from "./role-diff.ts";

const instance = {
  name: "default",
  partition: "aws",
  signInUrl: "https://signin.aws.amazon.com/saml",
};
const prod = account("production", "111111111111", { ou: "workloads" });
const staging = account("staging", "222222222222", { ou: "workloads" });
const samlProviderArn = "arn:aws:iam::111111111111:saml-provider/IdentityCenterOperator_default";

const readOnly = permissionSet("read-only");
const oversized = permissionSet("read-only", (p) => {
  p.metadata.generation = 2;
  p.spec.inlinePolicy = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: `s3:${"x".repeat(11_000)}`, Resource: "*" }],
  };
});
const malformed = permissionSet("read-only", (p) => {
  p.metadata.generation = 2;
  p.spec.inlinePolicy = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Resource: "*" }],
  };
});
const deleting = permissionSet("read-only", (p) => {
  p.metadata.deletionTimestamp = new Date(0);
});
const grant = assignment("a", "read-only", { accounts: ["production"] });
const typoPermissionSet = assignment("a", "raed-only", { accounts: ["production"] });
const typoAccount = assignment("a", "read-only", { accounts: ["prodution"] });
const untargeted = assignment("a", "read-only", { accounts: ["staging"] });
const recorded: PreviousPair[] = [{ permissionSet: "read-only", assignments: ["a"] }];

interface Case {
  name: string;
  permissionSets: PermissionSet[];
  assignments: AccountAssignment[];
  previous?: PreviousPair[];
  owned?: string[];
  /** desired, frozen (held as it is), or removed (neither: the role is deleted). */
  want: "desired" | "frozen" | "removed";
  reason?: string;
}

function decide(c: Case) {
  return planAccountRoles({
    instance,
    account: prod,
    samlProviderArn,
    permissionSets: c.permissionSets,
    assignments: c.assignments,
    accounts: [prod, staging],
    previous: c.previous ?? recorded,
    ownedPermissionSets: c.owned ?? ["read-only"],
  });
}

function outcome(result: ReturnType<typeof decide>) {
  const pair = result.pairs.find((p) => p.permissionSet === "read-only");
  if (pair?.role) return { want: "desired" };
  if (pair?.holds) return { want: "frozen", reason: pair.problem?.reason };
  return { want: "removed" };
}

describe("planAccountRoles: a problem freezes a provisioned pair, only a deliberate removal removes it", () => {
  it.each<Case>([
    { name: "valid", permissionSets: [readOnly], assignments: [grant], want: "desired" },
    {
      name: "inline policy too large",
      permissionSets: [oversized],
      assignments: [grant],
      want: "frozen",
      reason: "InvalidPolicy",
    },
    {
      name: "inline policy malformed (statement without an action)",
      permissionSets: [malformed],
      assignments: [grant],
      want: "frozen",
      reason: "InvalidPolicy",
    },
    {
      name: "IAM refused this generation before",
      permissionSets: [permissionSet("read-only", (p) => (p.metadata.generation = 3))],
      assignments: [grant],
      previous: [
        {
          permissionSet: "read-only",
          assignments: ["a"],
          reason: "IamRefused",
          permissionSetGeneration: 3,
        },
      ],
      want: "frozen",
      reason: "IamRefused",
    },
    {
      name: "IAM refused an older generation (the set changed since: try again)",
      permissionSets: [permissionSet("read-only", (p) => (p.metadata.generation = 4))],
      assignments: [grant],
      previous: [
        {
          permissionSet: "read-only",
          assignments: ["a"],
          reason: "IamRefused",
          permissionSetGeneration: 3,
        },
      ],
      want: "desired",
    },
    {
      name: "assignment edited to a permission set that does not exist",
      permissionSets: [readOnly],
      assignments: [typoPermissionSet],
      want: "frozen",
      reason: "PermissionSetNotFound",
    },
    {
      name: "assignment edited to an account that does not exist",
      permissionSets: [readOnly],
      assignments: [typoAccount],
      want: "frozen",
      reason: "AccountNotFound",
    },
    {
      name: "broken assignment, no record of who granted the role (older status)",
      permissionSets: [readOnly],
      assignments: [typoAccount],
      previous: [],
      want: "frozen",
      reason: "AccountNotFound",
    },
    {
      name: "assignment deleted",
      permissionSets: [readOnly],
      assignments: [],
      want: "removed",
    },
    {
      name: "assignment being deleted",
      permissionSets: [readOnly],
      assignments: [assignment("a", "read-only", { accounts: ["production"] })].map((a) => ({
        ...a,
        metadata: { ...a.metadata, deletionTimestamp: new Date(0) },
      })),
      want: "removed",
    },
    {
      name: "account untargeted by a valid edit",
      permissionSets: [readOnly],
      assignments: [untargeted],
      want: "removed",
    },
    {
      name: "permission set deleted (assignment left pointing at it)",
      permissionSets: [],
      assignments: [grant],
      want: "removed",
    },
    {
      name: "permission set being deleted",
      permissionSets: [deleting],
      assignments: [grant],
      want: "removed",
    },
    {
      name: "another broken assignment that never granted the pair",
      permissionSets: [readOnly],
      assignments: [assignment("b", "ghost", { accounts: ["staging"] })],
      want: "removed",
    },
  ])("$name -> $want", (c) => {
    expect(outcome(decide(c))).toEqual({
      want: c.want,
      ...(c.reason ? { reason: c.reason } : {}),
    });
  });

  it("keeps the pair desired while another valid assignment still grants it", () => {
    const result = decide({
      name: "",
      permissionSets: [readOnly],
      assignments: [typoAccount, assignment("b", "read-only", { accounts: ["111111111111"] })],
      want: "desired",
    });
    expect(result.pairs.find((p) => p.permissionSet === "read-only")).toMatchObject({
      assignments: ["b"],
    });
    expect(result.roles).toHaveLength(1);
  });

  it("a broken assignment creates nothing new", () => {
    const result = decide({
      name: "",
      permissionSets: [readOnly],
      assignments: [assignment("a", "read-only", { accounts: ["production", "nowhere"] })],
      previous: [],
      owned: [],
      want: "frozen",
    });
    expect(result.roles).toEqual([]);
    expect(result.pairs[0]).toMatchObject({ holds: true, problem: { reason: "AccountNotFound" } });
  });

  it("a frozen pair keeps every role of its permission set: diffRoles plans nothing for it", () => {
    const result = decide({
      name: "",
      permissionSets: [oversized],
      assignments: [grant],
      want: "frozen",
    });
    const frozen = new Set(result.pairs.filter((p) => p.holds).map((p) => p.permissionSet));
    const kept = observed({ roleName: "IdC_read-only_0123456789abcdef" });
    expect(diffRoles(result.roles, [kept], frozen)).toEqual([]);
  });
});

describe("duplicateAccountProblem", () => {
  const older: Account = {
    ...prod,
    metadata: { ...prod.metadata, creationTimestamp: new Date("2026-01-01T00:00:00Z") },
  };
  const newer: Account = {
    ...account("prod-again", "111111111111"),
    metadata: { name: "prod-again", creationTimestamp: new Date("2026-02-01T00:00:00Z") },
  };
  it.each([
    { name: "the older claim keeps working", subject: older, problem: undefined },
    { name: "the newer claim is frozen", subject: newer, problem: "DuplicateAccount" },
  ])("$name", ({ subject, problem }) => {
    expect(duplicateAccountProblem(subject, [newer, older, staging])?.reason).toBe(problem);
  });
});

describe("malformedPolicyProblem", () => {
  const ok = { Effect: "Allow", Action: "s3:GetObject", Resource: "*" };
  it.each([
    { name: "valid", statement: ok, problem: undefined },
    { name: "no action", statement: { Effect: "Allow", Resource: "*" }, problem: /Action/ },
    {
      name: "both Action and NotAction",
      statement: { ...ok, NotAction: "iam:*" },
      problem: /exactly one of Action or NotAction/,
    },
    { name: "no resource", statement: { Effect: "Allow", Action: "s3:*" }, problem: /Resource/ },
    { name: "a principal", statement: { ...ok, Principal: "*" }, problem: /Principal/ },
    { name: "a number as action", statement: { ...ok, Action: 3 }, problem: /string/ },
    {
      name: "condition not blocks",
      statement: { ...ok, Condition: { Bool: true } },
      problem: /Condition/,
    },
  ])("$name", ({ statement, problem }) => {
    const found = malformedPolicyProblem({ Version: "2012-10-17", Statement: [statement] });
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });
});

function observed(overrides: Partial<ObservedRole> = {}): ObservedRole {
  return {
    roleName: "IdC_ReadOnly_0123456789abcdef",
    arn: "arn:aws:iam::111111111111:role/identitycenter/IdC_ReadOnly_0123456789abcdef",
    path: "/identitycenter/",
    description: "Permission set read-only",
    maxSessionDuration: 3600,
    trustPolicy: encodeURIComponent(
      JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "x:y" }] }),
    ),
    attachedPolicyArns: ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
    inlinePolicies: {
      [INLINE_POLICY_NAME]: encodeURIComponent(
        JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }],
        }),
      ),
    },
    permissionsBoundaryArn: undefined,
    tags: {
      "identitycenter.dev/managed-by": "identity-center-operator",
      "identitycenter.dev/instance": "default",
      "identitycenter.dev/permission-set": "read-only",
    },
    ...overrides,
  };
}

describe("preflightProblems: what IAM would refuse half-way freezes the pair before any write", () => {
  const [role] = planAccountRoles({
    instance,
    account: prod,
    samlProviderArn,
    permissionSets: [
      permissionSet("read-only", (p) => {
        p.spec.customerManagedPolicies = [{ name: "Missing", path: "/" }];
        p.spec.managedPolicies = Array.from(
          { length: 3 },
          (_, i) => `arn:aws:iam::aws:policy/P${String(i)}`,
        );
      }),
    ],
    assignments: [grant],
    accounts: [prod],
    previous: [],
    ownedPermissionSets: [],
  }).roles;
  if (!role) throw new Error("no role planned");
  const plans = diffRoles([role], []);
  const customer = "arn:aws:iam::111111111111:policy/Missing";

  it("asks only about the policies the plans attach", () => {
    expect(referencedPolicyArns(plans)).toContain(customer);
    expect(referencedPolicyArns(diffRoles([role], [observedFrom(role)]))).toEqual([]);
  });

  it.each([
    { name: "all there, within quota", missing: [], quota: 10, reason: undefined },
    {
      name: "customer managed policy missing",
      missing: [customer],
      quota: 10,
      reason: "PolicyNotFound",
    },
    {
      name: "AWS managed policy missing",
      missing: ["arn:aws:iam::aws:policy/P1"],
      quota: 10,
      reason: "PolicyNotFound",
    },
    {
      name: "more policies than the account allows per role",
      missing: [],
      quota: 3,
      reason: "QuotaExceeded",
    },
  ])("$name -> $reason", ({ missing, quota, reason }) => {
    const problems = preflightProblems(plans, [], {
      accountId: "111111111111",
      missingPolicies: new Set(missing),
      attachedPoliciesPerRole: quota,
    });
    expect(problems.get("read-only")?.reason).toBe(reason);
  });

  it("refuses a new role beyond the account's role quota", () => {
    const problems = preflightProblems(plans, [], {
      accountId: "111111111111",
      missingPolicies: new Set(),
      rolesQuota: 1000,
      roles: 1000,
    });
    expect(problems.get("read-only")).toMatchObject({ reason: "QuotaExceeded" });
  });
});

function observedFrom(role: DesiredRole): ObservedRole {
  return observed({
    roleName: role.roleName,
    description: role.description,
    maxSessionDuration: role.maxSessionDuration,
    trustPolicy: JSON.stringify(role.trustPolicy),
    attachedPolicyArns: [...role.managedPolicyArns],
    inlinePolicies: role.inlinePolicy
      ? { [INLINE_POLICY_NAME]: JSON.stringify(role.inlinePolicy) }
      : {},
    permissionsBoundaryArn: role.permissionsBoundaryArn,
    tags: { ...role.tags },
  });
}

describe("restoreActions: a plan IAM refused half-way is undone", () => {
  const before = observed();
  it.each([
    { name: "nothing changed", now: before, actions: [] },
    {
      name: "an attachment was added",
      now: observed({
        attachedPolicyArns: [...before.attachedPolicyArns, "arn:aws:iam::aws:policy/Extra"],
      }),
      actions: ["detachRolePolicy"],
    },
    {
      name: "the inline policy and a tag changed",
      now: observed({
        inlinePolicies: { [INLINE_POLICY_NAME]: JSON.stringify({ Statement: [] }) },
        tags: { ...before.tags, team: "x" },
      }),
      actions: ["putRolePolicy", "untagRole"],
    },
    {
      name: "the session length changed",
      now: observed({ maxSessionDuration: 7200 }),
      actions: ["updateRole"],
    },
  ])("$name -> $actions", ({ now, actions }) => {
    expect(restoreActions(before, now).map((a) => a.type)).toEqual(actions);
  });

  it("deletes a role the refused plan had just created", () => {
    expect(restoreActions(undefined, before).map((a) => a.type)).toEqual([
      "detachRolePolicy",
      "deleteRolePolicy",
      "deleteRole",
    ]);
  });

  it("does nothing when the role is gone", () => {
    expect(restoreActions(before, undefined)).toEqual([]);
  });
});
