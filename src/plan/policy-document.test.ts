import { describe, expect, it } from "vitest";
import { canonicalPolicy, inlinePolicyProblem, samePolicy } from "./policy-document.ts";

const base = {
  Version: "2012-10-17",
  Statement: [
    { Effect: "Allow", Action: ["s3:GetObject", "s3:ListBucket"], Resource: "arn:aws:s3:::b/*" },
    { Effect: "Deny", Action: "iam:*", Resource: "*" },
  ],
};

describe("samePolicy", () => {
  it.each([
    {
      name: "statement order",
      other: { ...base, Statement: [...base.Statement].reverse() },
      same: true,
    },
    {
      name: "string vs one-element list",
      other: {
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Action: ["s3:ListBucket", "s3:GetObject"],
            Resource: ["arn:aws:s3:::b/*"],
          },
          { Effect: "Deny", Action: ["iam:*"], Resource: ["*"] },
        ],
      },
      same: true,
    },
    {
      name: "URL-encoded as IAM returns it",
      other: encodeURIComponent(JSON.stringify(base)),
      same: true,
    },
    {
      name: "key order",
      other: {
        Statement: base.Statement.map((s) => ({
          Resource: s.Resource,
          Action: s.Action,
          Effect: s.Effect,
        })),
        Version: "2012-10-17",
      },
      same: true,
    },
    {
      name: "a different action",
      other: {
        ...base,
        Statement: [base.Statement[0], { Effect: "Deny", Action: "iam:Get*", Resource: "*" }],
      },
      same: false,
    },
    {
      name: "a different effect",
      other: { ...base, Statement: [base.Statement[0], { ...base.Statement[1], Effect: "Allow" }] },
      same: false,
    },
    { name: "a different version", other: { ...base, Version: "2008-10-17" }, same: false },
  ])("$name -> same: $same", ({ other, same }) => {
    expect(samePolicy(base, other)).toBe(same);
  });

  it("treats a single statement object like a one-element list", () => {
    const one = {
      Version: "2012-10-17",
      Statement: { Effect: "Allow", Action: "s3:*", Resource: "*" },
    };
    expect(canonicalPolicy(one)).toBe(canonicalPolicy({ ...one, Statement: [one.Statement] }));
  });

  it("compares Principal and Condition values as sets", () => {
    const a = {
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Federated: "arn:p" },
          Action: "sts:AssumeRoleWithSAML",
          Condition: { StringEquals: { "SAML:aud": "https://x" } },
        },
      ],
    };
    const b = {
      Version: "2012-10-17",
      Statement: [
        {
          Condition: { StringEquals: { "SAML:aud": ["https://x"] } },
          Action: ["sts:AssumeRoleWithSAML"],
          Principal: { Federated: ["arn:p"] },
          Effect: "Allow",
        },
      ],
    };
    expect(samePolicy(a, b)).toBe(true);
  });
});

describe("inlinePolicyProblem", () => {
  const statement = (n: number) => ({
    Effect: "Allow",
    Action: `s3:${"x".repeat(n)}`,
    Resource: "*",
  });
  it.each([
    { name: "small", doc: { Statement: [statement(10)] }, problem: undefined },
    {
      name: "too many non-whitespace characters",
      doc: { Statement: [statement(10_300)] },
      problem: /non-whitespace characters; the limit is 10240/,
    },
    {
      name: "too many bytes",
      doc: { Statement: [{ ...statement(10), Sid: " ".repeat(33_000) }] },
      problem: /bytes; the limit is 32768/,
    },
  ])("$name", ({ doc, problem }) => {
    const result = inlinePolicyProblem(doc, 32768, 10240);
    if (problem === undefined) expect(result).toBeUndefined();
    else expect(result).toMatch(problem);
  });
});
