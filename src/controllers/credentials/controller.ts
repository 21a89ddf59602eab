import { credentialSecretName } from "../../adapters/k8s/credential-store.ts";
import { Controller } from "../../runtime/controller.ts";
import type { OperatorContext } from "../context.ts";
import { syncCredentialRecord } from "./sync.ts";

/**
 * Removes the credential record of a User that is gone or whose userName changed, so nothing
 * of it (password, authenticator, setup link, sessions) passes to the next User of that
 * userName. Keyed by the record's Secret name; the portal refuses such a record by uid anyway,
 * so this is clean-up, not the defence.
 */
export function createCredentialsController(ctx: OperatorContext, workers: number): Controller {
  const records = ctx.credentialRecords;
  const controller = new Controller({
    name: "credentials",
    log: ctx.log,
    metrics: ctx.metrics,
    workers,
    reconcile: (rc) => syncCredentialRecord(ctx, rc),
  });
  if (!records) return controller;
  records.informer.onChange(({ type, object }) => {
    if (type !== "delete" && object.metadata?.name) controller.enqueue(object.metadata.name);
  });
  ctx.users.informer.onChange(({ type, object, old }) => {
    // A deleted User, and both userNames of a renamed one; an added User may own a record
    // written before records were bound to a uid.
    if (type === "update" && old?.spec.userName === object.spec.userName) return;
    for (const user of [old, object]) {
      if (user) controller.enqueue(credentialSecretName(user.spec.userName));
    }
  });
  return controller;
}
