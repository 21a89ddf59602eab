import { describe, expect, it } from "vitest";
import { fakePortal } from "./fake-portal.ts";
import { errorPages, httpError } from "./errors.ts";

function errorApp() {
  const app = fakePortal().app({ pages: true });
  void app.register(errorPages);
  app.get("/forbidden", () => {
    throw httpError(403, `You are not assigned <b>"that"</b>.`);
  });
  app.get("/broken", () => {
    throw new Error("secret detail of a failure");
  });
  return app;
}

describe("the error pages plugin", () => {
  it("shows a 4xx error's message on an HTML page, escaped", async () => {
    const res = await errorApp().inject({ url: "/forbidden" });
    expect(res.statusCode).toBe(403);
    expect(res.headers["content-type"]).toMatch(/^text\/html/);
    expect(res.body).toContain("You are not assigned &lt;b&gt;&quot;that&quot;&lt;/b&gt;.");
  });

  it("hides what went wrong behind a 500 page (the details go to the log only)", async () => {
    const res = await errorApp().inject({ url: "/broken" });
    expect(res.statusCode).toBe(500);
    expect(res.body).toContain("Something went wrong.");
    expect(res.body).not.toContain("secret detail");
  });
});
