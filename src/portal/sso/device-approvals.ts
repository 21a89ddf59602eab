import { createHash } from "node:crypto";

/**
 * Device codes the signed-in users approved (or denied), waiting for the client's next poll.
 * Only approvals are stored (one small entry each, written by a signed-in user's POST): starting
 * a device authorization writes nothing, so an anonymous caller cannot fill the store.
 */
export interface DeviceApproval {
  /** The nonce of the device authorization, when the approval came through its link. */
  nonce?: string;
  userName: string;
  /** The user's session epoch when approving: a reset before the client polls voids it. */
  epoch: number;
  denied?: boolean;
  /** The client has had its tokens. */
  redeemed?: boolean;
  expiresAt: number;
}

export interface DeviceApprovals {
  /** Keyed by the sha256 of the user code, so the store never holds a live code. */
  approvals: Record<string, DeviceApproval>;
  /**
   * When each device authorization (by the sha256 of its nonce) was last polled and answered,
   * shared so that every replica holds a client to the poll interval. Only the last minute is
   * kept (an older poll cannot make a new one too fast), at most MAX_POLLS entries.
   */
  polls?: Record<string, number>;
}

/** Enough for every login polling at once; beyond it the oldest are forgotten. */
const MAX_POLLS = 2000;
const POLL_MEMORY_MS = 60_000;

/** The Secret (next to the credential Secrets) that holds an instance's pending approvals. */
export const deviceApprovalsSecretName = (instance: string) =>
  `identitycenter-${instance}-sso-device-approvals`;

export const emptyApprovals = (): DeviceApprovals => ({ approvals: {} });

export const userCodeKey = (userCode: string) =>
  createHash("sha256").update(userCode).digest("hex").slice(0, 40);

function pruned(doc: DeviceApprovals, now: number): Record<string, DeviceApproval> {
  return Object.fromEntries(Object.entries(doc.approvals).filter(([, a]) => a.expiresAt > now));
}

/**
 * A device poll at `now`: `tooFast` when this authorization was answered less than `minGapMs`
 * ago on any replica (the document is unchanged then, so nothing is written); else the poll is
 * recorded. Applied in a conditional write: of two polls at once on two replicas, one records
 * and the other, re-reading after its conflict, is too fast.
 */
export function recordPoll(
  doc: DeviceApprovals,
  nonce: string,
  now: number,
  minGapMs: number,
): { doc: DeviceApprovals; tooFast: boolean } {
  const key = userCodeKey(`poll:${nonce}`);
  const previous = doc.polls?.[key];
  if (previous !== undefined && now - previous < minGapMs && now >= previous)
    return { doc, tooFast: true };
  const recent = Object.entries(doc.polls ?? {})
    .filter(([k, t]) => k !== key && now - t < POLL_MEMORY_MS)
    .sort((a, b) => b[1] - a[1])
    .slice(0, MAX_POLLS - 1);
  return {
    doc: { ...doc, polls: Object.fromEntries([[key, now], ...recent]) },
    tooFast: false,
  };
}

export function addApproval(
  doc: DeviceApprovals,
  userCode: string,
  approval: DeviceApproval,
  now: number,
): DeviceApprovals {
  return { ...doc, approvals: { ...pruned(doc, now), [userCodeKey(userCode)]: approval } };
}

/** The approval for a polled device code, if there is one for it (and its nonce, if bound). */
export function findApproval(
  doc: DeviceApprovals,
  device: { userCode: string; nonce: string },
  now: number,
): DeviceApproval | undefined {
  const approval = doc.approvals[userCodeKey(device.userCode)];
  if (!approval || approval.expiresAt <= now) return undefined;
  if (approval.nonce !== undefined && approval.nonce !== device.nonce) return undefined;
  return approval;
}

/**
 * Marks the approval used once the client has its tokens: a device code is redeemed once, and
 * polling it again is an error rather than "pending" (the entry goes when the code expires).
 */
export function redeemApproval(
  doc: DeviceApprovals,
  userCode: string,
  now: number,
): DeviceApprovals {
  const approvals = pruned(doc, now);
  const key = userCodeKey(userCode);
  const approval = approvals[key];
  return {
    ...doc,
    approvals: approval ? { ...approvals, [key]: { ...approval, redeemed: true } } : approvals,
  };
}
