import { describe, expect, it } from "vitest";
import {
  addApproval,
  emptyApprovals,
  findApproval,
  recordPoll,
  redeemApproval,
} from "./device-approvals.ts";

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
  it("holds a device code to the poll interval through the shared document, and writes nothing for a poll that is too fast", () => {
    const first = recordPoll(emptyApprovals(), "n1", 1000, 800);
    expect(first.tooFast).toBe(false);
    const again = recordPoll(first.doc, "n1", 1500, 800);
    expect(again).toEqual({ doc: first.doc, tooFast: true });
    expect(again.doc).toBe(first.doc);
    expect(recordPoll(first.doc, "n2", 1500, 800).tooFast).toBe(false);
    expect(recordPoll(first.doc, "n1", 1800, 800).tooFast).toBe(false);
    expect(JSON.stringify(first.doc)).not.toContain("n1");
  });
  it("keeps only the last minute of polls, and approvals alongside them", () => {
    let doc = recordPoll(emptyApprovals(), "old", 0, 800).doc;
    doc = addApproval(doc, "BCDF-GHJK", { userName: "alice", epoch: 1, expiresAt: 90_000 }, 1);
    doc = recordPoll(doc, "new", 61_000, 800).doc;
    expect(Object.keys(doc.polls ?? {})).toHaveLength(1);
    expect(Object.keys(doc.approvals)).toHaveLength(1);
  });
});
