import { describe, expect, it } from "vitest";
import { fakePortal } from "../fake-portal.ts";
import { healthRoutes } from "./health.ts";

describe("the probe routes", () => {
  it("are live and ready while the IdentityCenter is in the cache", async () => {
    const portal = fakePortal();
    portal.addInstance();
    const app = portal.app();
    void app.register(healthRoutes);
    expect((await app.inject({ url: "/healthz" })).statusCode).toBe(200);
    expect((await app.inject({ url: "/readyz" })).statusCode).toBe(200);
  });

  it("are live but not ready while the IdentityCenter is missing", async () => {
    const app = fakePortal().app();
    void app.register(healthRoutes);
    expect((await app.inject({ url: "/healthz" })).body).toBe("ok\n");
    expect((await app.inject({ url: "/readyz" })).statusCode).toBe(503);
  });
});
