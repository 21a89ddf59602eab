import type { Group, User } from "../api/v1alpha1/index.ts";

const NONE: ReadonlySet<string> = new Set();

/**
 * A multimap from a string to object names. Most keys (a userName, an email) have exactly one
 * name, so a key holds the bare name until a second one comes: at 100,000 users a Set per key
 * would cost some 20 MiB for nothing.
 */
export class NameIndex {
  private readonly map = new Map<string, string | Set<string>>();
  add(key: string, name: string): void {
    const current = this.map.get(key);
    if (current === undefined) this.map.set(key, name);
    else if (typeof current === "string") {
      if (current !== name) this.map.set(key, new Set([current, name]));
    } else current.add(name);
  }
  remove(key: string, name: string): void {
    const current = this.map.get(key);
    if (current === undefined) return;
    if (typeof current === "string") {
      if (current === name) this.map.delete(key);
      return;
    }
    current.delete(name);
    if (current.size === 1) this.map.set(key, [...current][0] ?? "");
    else if (current.size === 0) this.map.delete(key);
  }
  get(key: string): ReadonlySet<string> {
    const current = this.map.get(key);
    if (current === undefined) return NONE;
    return typeof current === "string" ? new Set([current]) : current;
  }
}

export const emailKey = (email: string): string => email.toLowerCase();
/**
 * userNames, like emails, are unique and matched ignoring case, as in AWS IAM Identity Center:
 * "Alice" cannot be created beside "alice" to pass for her (in group members, assignments or
 * at sign-in).
 */
export const userNameKey = (userName: string): string => userName.toLowerCase();

/**
 * Lookups the identity store needs on every reconcile, kept up to date from informer changes
 * so a reconcile costs O(its own object), not O(all users): users by userName and by email,
 * and groups by member userName, all ignoring case. Pure data, no I/O.
 */
export class DirectoryIndex {
  private readonly byUserName = new NameIndex();
  private readonly byEmail = new NameIndex();
  private readonly groupsByMember = new NameIndex();

  /** Applies a User change; `old` is the previous version, `next` undefined on delete. */
  updateUser(old: User | undefined, next: User | undefined): void {
    if (old) {
      this.byUserName.remove(userNameKey(old.spec.userName), old.metadata.name);
      this.byEmail.remove(emailKey(old.spec.email), old.metadata.name);
    }
    if (next) {
      this.byUserName.add(userNameKey(next.spec.userName), next.metadata.name);
      this.byEmail.add(emailKey(next.spec.email), next.metadata.name);
    }
  }

  updateGroup(old: Group | undefined, next: Group | undefined): void {
    for (const member of old?.spec.members ?? [])
      this.groupsByMember.remove(userNameKey(member), old?.metadata.name ?? "");
    for (const member of next?.spec.members ?? [])
      this.groupsByMember.add(userNameKey(member), next?.metadata.name ?? "");
  }

  usersWithUserName(userName: string): ReadonlySet<string> {
    return this.byUserName.get(userNameKey(userName));
  }

  usersWithEmail(email: string): ReadonlySet<string> {
    return this.byEmail.get(emailKey(email));
  }

  groupsWithMember(userName: string): ReadonlySet<string> {
    return this.groupsByMember.get(userNameKey(userName));
  }

  /** Other User objects that share this user's userName or email. */
  clashesOf(user: User): { userName: string[]; email: string[] } {
    const others = (names: ReadonlySet<string>) =>
      [...names].filter((n) => n !== user.metadata.name).sort();
    return {
      userName: others(this.usersWithUserName(user.spec.userName)),
      email: others(this.usersWithEmail(user.spec.email)),
    };
  }

  /** The one valid (non-clashing) User object with this userName, if there is one. */
  validUserFor(userName: string): string | undefined {
    const names = this.usersWithUserName(userName);
    if (names.size !== 1) return undefined;
    return [...names][0];
  }
}
