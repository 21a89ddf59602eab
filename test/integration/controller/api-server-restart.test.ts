import { describe, expect, it } from "vitest";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { customObjects, readyOf } from "../../harness/k8s.ts";
import { useControllerProcess } from "../../harness/use-controller.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";

describe("the controller across an API server restart", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles() });

  // Without leader election: an outage longer than the renew deadline would (correctly) make a
  // leader give up and exit; here we test that the caches recover.
  const controllerProcess = useControllerProcess(env, {
    identity: "survivor",
    args: ["--leader-elect=false"],
  });

  it("keeps working after the API server is stopped and started again, losing no update", async () => {
    const objects = customObjects(env().kubeConfig());
    await objects.create("users", "User", "gina", { userName: "gina", email: "gina@example.com" });
    await expect
      .poll(async () => readyOf(await objects.get("users", "gina"))?.reason, { timeout: 15_000 })
      .toBe("Valid");

    await env().apiServer.stop();
    await new Promise((r) => setTimeout(r, 3000));
    await env().apiServer.restart();

    // Changes made right after the restart are seen: the informers resumed their watches.
    await objects.create("users", "User", "gina-2", {
      userName: "gina",
      email: "gina2@example.com",
    });
    await objects.create("groups", "Group", "ops", { members: ["gina", "hank"] });
    await expect
      .poll(async () => readyOf(await objects.get("users", "gina"))?.reason, { timeout: 40_000 })
      .toBe("Duplicate");
    await expect
      .poll(async () => readyOf(await objects.get("users", "gina-2"))?.reason, { timeout: 40_000 })
      .toBe("Duplicate");
    await expect
      .poll(async () => (await objects.get("groups", "ops")).status?.unknownMembers, {
        timeout: 40_000,
      })
      .toEqual(["gina", "hank"]);
    expect(controllerProcess().child.exitCode).toBeNull();
  });
});
