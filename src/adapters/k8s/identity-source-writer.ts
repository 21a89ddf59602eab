import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { GROUP, VERSION, type Group, type User } from "../../api/v1alpha1/index.ts";
import { MANAGED_BY_IDENTITY_SOURCE, MANAGED_BY_SOURCE_LABEL } from "../../api/v1alpha1/labels.ts";
import { apiStatusCode } from "../../runtime/api-errors.ts";

const ATTEMPTS = 10;

/** What an upstream sign-in writes: Users it creates and the Groups the identity source owns. */
export interface IdentitySourceWriter {
  /** Creates the User; one that already exists (another replica won the race) is fine. */
  createUser(user: User): Promise<void>;
  /** Adds or removes one member of an identity-source Group, creating the Group to join it. */
  setMembership(
    group: string,
    userName: string,
    member: boolean,
    displayName?: string,
  ): Promise<void>;
}

/**
 * The portal's writes for just-in-time provisioning and group claims, through its own
 * ServiceAccount. A Group is changed only while it carries the identity-source label, checked
 * in the same conditional write (resourceVersion) that changes it: a Group that GitOps or SCIM
 * took over in the meantime is left alone.
 */
export class KubernetesIdentitySourceWriter implements IdentitySourceWriter {
  private readonly api: CustomObjectsApi;

  constructor(kubeConfig: KubeConfig) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async createUser(user: User): Promise<void> {
    try {
      await this.api.createClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: "users",
        body: user,
      });
    } catch (err) {
      if (apiStatusCode(err) !== 409) throw err;
    }
  }

  async setMembership(
    name: string,
    userName: string,
    member: boolean,
    displayName?: string,
  ): Promise<void> {
    const ref = { group: GROUP, version: VERSION, plural: "groups", name };
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      let current: Group | undefined;
      try {
        current = (await this.api.getClusterCustomObject(ref)) as Group;
      } catch (err) {
        if (apiStatusCode(err) !== 404) throw err;
      }
      if (!current) {
        if (!member) return;
        try {
          await this.api.createClusterCustomObject({
            group: GROUP,
            version: VERSION,
            plural: "groups",
            body: {
              apiVersion: `${GROUP}/${VERSION}`,
              kind: "Group",
              metadata: {
                name,
                labels: { [MANAGED_BY_SOURCE_LABEL]: MANAGED_BY_IDENTITY_SOURCE },
              },
              spec: {
                ...(displayName ? { displayName: displayName.slice(0, 1024) } : {}),
                members: [userName],
              },
            },
          });
          return;
        } catch (err) {
          if (apiStatusCode(err) !== 409) throw err;
          continue; // made meanwhile: read it and join
        }
      }
      if (current.metadata.labels?.[MANAGED_BY_SOURCE_LABEL] !== MANAGED_BY_IDENTITY_SOURCE) return;
      const key = userName.toLowerCase();
      const others = current.spec.members.filter((m) => m.toLowerCase() !== key);
      const members = member ? [...others, userName] : others;
      if (
        members.length === current.spec.members.length &&
        members.every((m, i) => m === current.spec.members[i])
      )
        return;
      try {
        await this.api.replaceClusterCustomObject({
          ...ref,
          body: { ...current, spec: { ...current.spec, members } },
        });
        return;
      } catch (err) {
        if (apiStatusCode(err) !== 409) throw err;
      }
    }
    throw new Error(`Group ${name} kept changing; try again`);
  }
}
