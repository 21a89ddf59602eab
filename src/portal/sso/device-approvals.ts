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
}

/** The Secret (next to the credential Secrets) that holds an instance's pending approvals. */
export const deviceApprovalsSecretName = (instance: string) =>
  `identitycenter-${instance}-sso-device-approvals`;

export const emptyApprovals = (): DeviceApprovals => ({ approvals: {} });

export const userCodeKey = (userCode: string) =>
  createHash("sha256").update(userCode).digest("hex").slice(0, 40);

function pruned(doc: DeviceApprovals, now: number): Record<string, DeviceApproval> {
  return Object.fromEntries(Object.entries(doc.approvals).filter(([, a]) => a.expiresAt > now));
}

export function addApproval(
  doc: DeviceApprovals,
  userCode: string,
  approval: DeviceApproval,
  now: number,
): DeviceApprovals {
  return { approvals: { ...pruned(doc, now), [userCodeKey(userCode)]: approval } };
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
    approvals: approval ? { ...approvals, [key]: { ...approval, redeemed: true } } : approvals,
  };
}
