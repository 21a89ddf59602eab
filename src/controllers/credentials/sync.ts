import {
  USER_NAME_ANNOTATION,
  USER_OBJECT_ANNOTATION,
  USER_UID_ANNOTATION,
  parseRecord,
} from "../../adapters/k8s/credential-store.ts";
import { apiStatusCode } from "../../runtime/api-errors.ts";
import type { User } from "../../api/v1alpha1/index.ts";
import type { ReconcileContext, ReconcileResult } from "../../runtime/controller.ts";
import type { OperatorContext } from "../context.ts";

/** Whether the API server (not the cache, which may lag) still has the record's User as it was. */
async function ownerStillThere(
  ctx: OperatorContext,
  object: string | undefined,
  uid: string,
  userName: string,
): Promise<boolean> {
  if (!object) return false;
  try {
    const live = await ctx.users.client.get(object);
    return live.metadata.uid === uid && live.spec.userName === userName;
  } catch (err) {
    if (apiStatusCode(err) === 404) return false;
    throw err;
  }
}

/** Keeps a credential record only while the User it was made for has its userName. */
export async function syncCredentialRecord(
  ctx: OperatorContext,
  { key, log }: ReconcileContext,
): Promise<ReconcileResult> {
  const records = ctx.credentialRecords;
  const secret = records?.get(key);
  if (!records || !secret) return undefined;
  const annotations = secret.metadata?.annotations ?? {};
  const userName = annotations[USER_NAME_ANNOTATION] ?? parseRecord(secret)?.userName;
  if (!userName) return undefined; // not a record this operator wrote
  const holders = [...ctx.directory.usersWithUserName(userName)]
    .map((name) => ctx.users.informer.get(name))
    .filter((u): u is User => u !== undefined);
  const uid = annotations[USER_UID_ANNOTATION] ?? parseRecord(secret)?.userUid;
  if (!uid) {
    // Written before records were bound to a uid: it belongs to whoever has the userName now
    // (as it did then), or to no one.
    const [holder] = holders;
    if (holders.length === 1 && holder?.metadata.uid) {
      await records.adopt(secret, { name: holder.metadata.name, uid: holder.metadata.uid });
      log.info({ userName }, "bound a credential record to its User's uid");
      return undefined;
    }
    if (holders.length > 1) return undefined; // a clash: wait until one User has the userName
  } else if (holders.some((u) => u.metadata.uid === uid)) {
    return undefined;
  } else if (await ownerStillThere(ctx, annotations[USER_OBJECT_ANNOTATION], uid, userName)) {
    return undefined; // the cache has not seen the User yet
  }
  await records.delete(secret);
  log.info({ userName }, "deleted the credential record of a User that is gone or renamed");
  return undefined;
}
