import formbody from "@fastify/formbody";
import { describe, expect, it } from "vitest";
import { errorPages } from "./errors.ts";
import { fakePortal } from "./fake-portal.ts";
import { formRoute, type Form } from "./forms.ts";

function formApp() {
  const app = fakePortal().app({ pages: true });
  void app.register(formbody);
  void app.register(errorPages);
  app.post("/form", { schema: formRoute(["csrf"]) }, (req) => ({ csrf: (req.body as Form).csrf }));
  return app;
}

describe("form routes", () => {
  it("hand the handler an object of strings", async () => {
    const res = await formApp().inject({
      method: "POST",
      url: "/form",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "csrf=abc&other=1",
    });
    expect(res.json()).toEqual({ csrf: "abc" });
  });

  it.each([
    ["no body", {}, undefined],
    ["JSON null", { "content-type": "application/json" }, "null"],
    ["empty JSON", { "content-type": "application/json" }, ""],
    ["a field twice", { "content-type": "application/x-www-form-urlencoded" }, "csrf=a&csrf=b"],
    ["text/plain", { "content-type": "text/plain" }, "csrf=a"],
  ])("refuse %s with a 4xx page that names no request detail", async (_name, headers, payload) => {
    const res = await formApp().inject({
      method: "POST",
      url: "/form",
      headers,
      ...(payload === undefined ? {} : { payload }),
    });
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.statusCode).toBeLessThan(500);
    expect(res.headers["content-type"]).toMatch(/^text\/html/);
    expect(res.body).toContain("This page takes a form from the portal&#39;s own pages.");
  });
});
