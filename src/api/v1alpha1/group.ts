import Type, { type Static } from "typebox";
import { readyColumns, statusOf, type KindDefinition } from "./schema.ts";

export const GroupSpec = Type.Object(
  {
    displayName: Type.Optional(
      Type.String({
        description: "Name shown in the portal and to applications.",
        maxLength: 1024,
      }),
    ),
    description: Type.Optional(
      Type.String({ description: "What the group is for.", maxLength: 1024 }),
    ),
    members: Type.Array(
      Type.String({ description: "A user's spec.userName.", minLength: 1, maxLength: 128 }),
      {
        description:
          "Members, by userName. Groups do not nest. Names with no User are reported in status.unknownMembers.",
        default: [],
        maxItems: 10000,
        "x-kubernetes-list-type": "set",
      },
    ),
  },
  { description: "A group of workforce users." },
);

export const GroupStatus = statusOf("Observed state of the group.", {
  members: Type.Optional(
    Type.Integer({ description: "Number of members that resolve to a Ready user.", minimum: 0 }),
  ),
  unknownMembers: Type.Optional(
    Type.Array(Type.String({ description: "A userName." }), {
      description: "Members with no Ready User of that userName, sorted.",
    }),
  ),
});

export type GroupSpec = Static<typeof GroupSpec>;
export type GroupStatus = Static<typeof GroupStatus>;

export const groupDefinition: KindDefinition = {
  kind: "Group",
  plural: "groups",
  singular: "group",
  shortNames: ["idcgroup"],
  description: "Group is a set of workforce users that can be given access together.",
  spec: GroupSpec,
  status: GroupStatus,
  columns: [
    {
      name: "DisplayName",
      type: "string",
      jsonPath: ".spec.displayName",
      description: "Display name.",
    },
    {
      name: "Members",
      type: "integer",
      jsonPath: ".status.members",
      description: "Members that resolve to a user.",
    },
    ...readyColumns,
  ],
};
