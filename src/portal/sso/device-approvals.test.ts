import { describe, expect, it } from "vitest";
import { addApproval, emptyApprovals, findApproval, redeemApproval } from "./device-approvals.ts";

describe("device approvals", () => {
  const approval = { userName: "alice", epoch: 1, expiresAt: 1000 };

  it("stores no user code in the clear", () => {
    const doc = addApproval(emptyApprovals(), "BCDF-GHJK", approval, 0);
    expect(JSON.stringify(doc)).not.toContain("BCDF");
    expect(findApproval(doc, { userCode: "BCDF-GHJK", nonce: "n" }, 1)).toEqual(approval);
  });
  it("binds an approval made through the link to that device authorization", () => {
    const doc = addApproval(emptyApprovals(), "BCDF-GHJK", { ...approval, nonce: "n1" }, 0);
    expect(findApproval(doc, { userCode: "BCDF-GHJK", nonce: "n2" }, 1)).toBeUndefined();
    expect(findApproval(doc, { userCode: "BCDF-GHJK", nonce: "n1" }, 1)).toBeDefined();
  });
  it("forgets expired approvals and remembers a redeemed one until it expires", () => {
    let doc = addApproval(emptyApprovals(), "BCDF-GHJK", approval, 0);
    doc = addApproval(doc, "CDFG-HJKL", { ...approval, expiresAt: 5000 }, 2000);
    expect(Object.keys(doc.approvals)).toHaveLength(1);
    doc = redeemApproval(doc, "CDFG-HJKL", 2001);
    expect(findApproval(doc, { userCode: "CDFG-HJKL", nonce: "n" }, 2002)?.redeemed).toBe(true);
    expect(redeemApproval(doc, "CDFG-HJKL", 5000).approvals).toEqual({});
  });
});
