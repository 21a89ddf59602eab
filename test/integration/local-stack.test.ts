import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import type { Browser } from "playwright-core";
import { launchChromium, readQrCode } from "../harness/browser.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { totpCode } from "../harness/totp.ts";
import { repoRoot } from "../harness/paths.ts";
import { freePort } from "../harness/ports.ts";

const PASSWORD = "correct horse battery staple";

/** Reads `label:  value` lines the start command prints once everything is up. */
function readBanner(child: ChildProcess, output: string[]): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`npm start did not come up in 150 s:\n${output.join("")}`));
    }, 150_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      output.push(chunk.toString());
      const text = output.join("");
      if (!text.includes("Press Ctrl-C to stop.")) return;
      clearTimeout(timer);
      const fields: Record<string, string> = {};
      for (const m of text.matchAll(/^ {2}([a-zA-Z ()]+):\s+(\S+)/gm))
        fields[(m[1] ?? "").trim()] = m[2] ?? "";
      resolve(fields);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${String(code)}:\n${output.join("")}`));
    });
  });
}

/** Resolves once the TOTP step after `step` has begun: each code can be used only once. */
async function nextStep(step: number): Promise<void> {
  const wait = (step + 1) * 30_000 - Date.now() + 200;
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

describe("npm start: the local stack, driven from a browser", () => {
  let stack: ChildProcess;
  let exited: Promise<number | null>;
  const output: string[] = [];
  let banner: Record<string, string> = {};
  let browser: Browser;

  beforeAll(async () => {
    const port = await freePort();
    // The README's start command, `npm start`, is this script.
    stack = spawn(process.execPath, [path.join(repoRoot, "test/harness/local-stack.ts")], {
      env: { ...process.env, IDC_PORTAL_PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    stack.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    exited = new Promise((resolve) => stack.once("exit", (code) => resolve(code)));
    process.once("exit", () => stack.kill("SIGKILL"));
    banner = await readBanner(stack, output);
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser.close();
    stack.kill("SIGKILL");
  });

  it("prints the portal URL and a setup link, and alice gets from the link to the console", async () => {
    expect(banner.portal).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(banner["setup link"]).toMatch(
      new RegExp(`^${banner.portal ?? ""}/setup\\?user=alice&token=`),
    );
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(banner["setup link"] ?? "");
    const secret =
      new URL(readQrCode(await page.locator("#qr svg").screenshot())).searchParams.get("secret") ??
      "";
    await page.fill('input[name="password"]', PASSWORD);
    const setupStep = Math.floor(Date.now() / 30_000);
    await page.fill('input[name="otp"]', totpCode(secret, new Date()));
    await page.click('button[type="submit"]');
    await page.waitForURL(`${banner.portal ?? ""}/login`);

    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', PASSWORD);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${banner.portal ?? ""}/login/otp`);
    await nextStep(setupStep);
    await page.fill('input[name="otp"]', totpCode(secret, new Date()));
    await page.click('button[type="submit"]');
    await page.waitForURL(`${banner.portal ?? ""}/`);

    // alice is a platform admin: AdministratorAccess in all three sample accounts, once the
    // controller has provisioned the roles in moto.
    await expect
      .poll(
        async () => {
          await page.reload();
          return page
            .locator("section.account")
            .evaluateAll((sections) => sections.map((s) => s.getAttribute("data-account")));
        },
        { timeout: 60_000, interval: 1000 },
      )
      .toEqual(["production", "security", "staging"]);
    await page
      .locator('[data-account="production"] [data-permission-set="administrator-access"] button', {
        hasText: "Management console",
      })
      .click();
    await page.waitForSelector("text=Signed in to AWS (stand-in)");
    expect(await page.locator("#arn").textContent()).toMatch(
      /^arn:aws:sts::111111111111:assumed-role\/IdC_AdministratorAccess_[0-9a-f]{16}\/alice$/,
    );
    await context.close();
  }, 120_000);

  it("stops everything on Ctrl-C", async () => {
    stack.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(output.join("")).toContain("stopped.");
    const stillUp = await fetch(`${banner.portal ?? ""}/healthz`).then(
      () => true,
      () => false,
    );
    expect(stillUp).toBe(false);
    const motoUp = await fetch(banner["AWS (moto)"] ?? "").then(
      () => true,
      () => false,
    );
    expect(motoUp).toBe(false);
  }, 60_000);
});
