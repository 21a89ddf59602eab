import { NameIndex, userNameKey } from "./directory-index.ts";

type Principal = { kind: "User" | "Group"; name: string };

/** What the index reads of an AccountAssignment or an ApplicationAssignment. */
interface Assigned {
  metadata: { name: string };
  spec: { principal: Principal };
}

/** A user principal is matched ignoring case, like userNames everywhere; a group by name. */
export const principalKey = (principal: Principal): string =>
  principal.kind === "User" ? `User:${userNameKey(principal.name)}` : `Group:${principal.name}`;

/**
 * Assignments by the principal they name, kept up to date from informer changes, so the
 * portal finds a user's assignments (their own and their groups') in O(what they have), not by
 * scanning every assignment of the organisation on each page and each sign-in. Names only:
 * the objects stay in the informer's cache. Pure data, no I/O.
 */
export class AssignmentIndex {
  private readonly byPrincipal = new NameIndex();

  /** Applies a change; `old` is the previous version, `next` undefined on delete. */
  update(old: Assigned | undefined, next: Assigned | undefined): void {
    if (old) this.byPrincipal.remove(principalKey(old.spec.principal), old.metadata.name);
    if (next) this.byPrincipal.add(principalKey(next.spec.principal), next.metadata.name);
  }

  /** Names of the assignments of a user (by userName) and of the groups named. */
  namesFor(userName: string, groups: Iterable<string>): Set<string> {
    const names = new Set(this.byPrincipal.get(principalKey({ kind: "User", name: userName })));
    for (const group of groups)
      for (const n of this.byPrincipal.get(principalKey({ kind: "Group", name: group })))
        names.add(n);
    return names;
  }
}

/** Account object names by AWS account id: assignments may name an account either way. */
export class AccountIdIndex {
  private readonly byId = new NameIndex();

  update(
    old: { metadata: { name: string }; spec: { accountId: string } } | undefined,
    next: { metadata: { name: string }; spec: { accountId: string } } | undefined,
  ): void {
    if (old) this.byId.remove(old.spec.accountId, old.metadata.name);
    if (next) this.byId.add(next.spec.accountId, next.metadata.name);
  }

  namesWithId(accountId: string): ReadonlySet<string> {
    return this.byId.get(accountId);
  }
}
