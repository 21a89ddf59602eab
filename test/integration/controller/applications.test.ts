import { beforeAll, describe, expect, it } from "vitest";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { customObjects, readyOf } from "../../harness/k8s.ts";
import { useControllerProcess } from "../../harness/use-controller.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";

const poll = { timeout: 20_000, interval: 100 };

describe("application controllers", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles() });
  let objects: ReturnType<typeof customObjects>;

  beforeAll(() => {
    objects = customObjects(env().kubeConfig());
  });
  useControllerProcess(env, {
    identity: "apps",
    args: ["--leader-elect=false"],
  });

  it("makes an application Ready with the IdP metadata URL once an IdentityCenter exists", async () => {
    await objects.create("applications", "Application", "wiki", {
      displayName: "Wiki",
      entityId: "https://wiki.example.com/saml",
      acsUrl: "https://wiki.example.com/saml/acs",
    });
    await expect
      .poll(async () => readyOf(await objects.get("applications", "wiki"))?.reason, poll)
      .toBe("WaitingForIdentityCenter");
    await objects.create("identitycenters", "IdentityCenter", "default", {
      portal: { hostname: "sso.example.com" },
    });
    await expect
      .poll(async () => readyOf(await objects.get("applications", "wiki"))?.status, poll)
      .toBe("True");
    expect((await objects.get("applications", "wiki")).status?.metadataUrl).toBe(
      "https://sso.example.com/saml/metadata",
    );
  });

  it("reports an assignment to a missing application or principal, and Ready once both exist", async () => {
    await objects.create("applicationassignments", "ApplicationAssignment", "team-wiki", {
      principal: { kind: "Group", name: "team" },
      application: "wiki",
    });
    await expect
      .poll(
        async () => readyOf(await objects.get("applicationassignments", "team-wiki"))?.reason,
        poll,
      )
      .toBe("PrincipalNotFound");
    await objects.create("groups", "Group", "team", { members: [] });
    await expect
      .poll(
        async () => readyOf(await objects.get("applicationassignments", "team-wiki"))?.status,
        poll,
      )
      .toBe("True");
    await objects.create("applicationassignments", "ApplicationAssignment", "team-crm", {
      principal: { kind: "Group", name: "team" },
      application: "crm",
    });
    await expect
      .poll(
        async () => readyOf(await objects.get("applicationassignments", "team-crm"))?.reason,
        poll,
      )
      .toBe("ApplicationNotFound");
  });
});
