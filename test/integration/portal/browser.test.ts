import { mkdir } from "node:fs/promises";
import path from "node:path";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { SAML } from "@node-saml/node-saml";
import type { Browser } from "playwright-core";
import { launchChromium, readQrCode } from "../../harness/browser.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueSetupToken } from "../../../src/identity/credentials.ts";
import { totpCode } from "../../harness/totp.ts";
import { startConsoleStandIn, type ConsoleStandIn } from "../../harness/console-stand-in.ts";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { repoRoot } from "../../harness/paths.ts";
import { freePort } from "../../harness/ports.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";
import { xmlsecVerifies } from "../../harness/xmlsec.ts";
import { A, startPortalFixture } from "./fixture.ts";

// Screenshots for docs/ are written only when asked: IDC_SCREENSHOTS=1.
const SCREENSHOTS =
  process.env.IDC_SCREENSHOTS === "1" ? path.join(repoRoot, "docs/screenshots") : undefined;

describe("the portal in Chromium: invite -> setup with MFA -> sign in -> console and keys", () => {
  const env = useTestEnvironment({ crdFiles: operatorCrdFiles(), moto: true });
  let fixture: Awaited<ReturnType<typeof startPortalFixture>>;
  let browser: Browser;
  let standIn: ConsoleStandIn;
  let portalUrl = "";
  let clockOffset = 0;
  const portalNow = () => new Date(Date.now() + clockOffset);

  beforeAll(async () => {
    // A local stand-in for https://signin.aws.amazon.com/saml: it records what it is posted
    // and trades the SAMLResponse for credentials at moto's STS, as AWS would.
    standIn = await startConsoleStandIn({ stsEndpoint: env().moto.endpoint });
    const port = await freePort();
    portalUrl = `http://127.0.0.1:${String(port)}`;
    fixture = await startPortalFixture(env(), {
      externalUrl: portalUrl,
      signInUrl: standIn.url,
      now: portalNow,
    });
    await fixture.app.listen({ host: "127.0.0.1", port });
    browser = await launchChromium();
    if (SCREENSHOTS) await mkdir(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser.close();
    await fixture.stop();
    await standIn.close();
  });

  it("walks the whole flow as a person would", async () => {
    let token = "";
    await fixture.store.update("alice", (r) => {
      const issued = issueSetupToken(r, Date.now());
      token = issued.token;
      return issued.record;
    });
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const shot = async (name: string) => {
      if (SCREENSHOTS) await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
    };

    await page.goto(`${portalUrl}/setup?user=alice&token=${token}`);
    // The authenticator scans the QR code as Chromium draws it; its secret is the one used below.
    const scanned = readQrCode(await page.locator("#qr svg").screenshot());
    expect(scanned).toBe(await page.locator("#otpauth").textContent());
    const secret = new URL(scanned).searchParams.get("secret") ?? "";
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(await page.locator("code").first().textContent()).toBe(secret);
    await shot("setup");
    await page.fill('input[name="password"]', "correct horse battery staple");
    await page.fill('input[name="otp"]', totpCode(secret, portalNow()));
    await page.click('button[type="submit"]');
    await page.waitForURL(`${portalUrl}/login`);

    await shot("login");
    await page.fill('input[name="username"]', "alice");
    await page.fill('input[name="password"]', "correct horse battery staple");
    await page.click('button[type="submit"]');
    await page.waitForURL(`${portalUrl}/login/otp`);
    clockOffset = 30_000; // the next TOTP step: the setup used this one
    await page.fill('input[name="otp"]', totpCode(secret, portalNow()));
    await page.click('button[type="submit"]');
    await page.waitForURL(`${portalUrl}/`);

    await expect(page.locator("section.account h2").allTextContents()).resolves.toEqual([
      `Production ${A}`,
    ]);
    await expect(page.locator('[data-account="staging"]').count()).resolves.toBe(0);
    await shot("portal");

    await page
      .locator('[data-account="production"] [data-permission-set="read-only"] button', {
        hasText: "Management console",
      })
      .click();
    await page.waitForSelector("text=Signed in to AWS (stand-in)");
    expect(await page.locator("#arn").textContent()).toMatch(
      new RegExp(`^arn:aws:sts::${A}:assumed-role/IdC_ReadOnlyAccess_[0-9a-f]{16}/alice$`),
    );
    const posted = new URLSearchParams(
      standIn.received.find((body) => body.startsWith("SAMLResponse=")) ?? "",
    );
    expect(posted.get("RelayState")).toBe("https://console.aws.amazon.com/s3/home");
    const sp = new SAML({
      callbackUrl: "https://signin.aws.amazon.com/saml",
      idpCert: fixture.certificatePem,
      issuer: "urn:amazon:webservices",
      audience: "urn:amazon:webservices",
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      acceptedClockSkewMs: 5 * 60_000,
    });
    const { profile } = await sp.validatePostResponseAsync({
      SAMLResponse: posted.get("SAMLResponse") ?? "",
    });
    expect(profile?.["https://aws.amazon.com/SAML/Attributes/RoleSessionName"]).toBe("alice");
    expect(
      await xmlsecVerifies(
        Buffer.from(posted.get("SAMLResponse") ?? "", "base64").toString(),
        fixture.certificatePem,
      ),
    ).toBe(true);

    await page.goto(`${portalUrl}/`);
    await page.locator('[data-account="production"] button', { hasText: "Access keys" }).click();
    const bash = (await page.locator("#bash").textContent()) ?? "";
    await shot("access-keys");
    const value = (name: string) => new RegExp(`export ${name}="([^"]+)"`).exec(bash)?.[1] ?? "";
    const who = await env()
      .moto.sts({
        accessKeyId: value("AWS_ACCESS_KEY_ID"),
        secretAccessKey: value("AWS_SECRET_ACCESS_KEY"),
        sessionToken: value("AWS_SESSION_TOKEN"),
      })
      .send(new GetCallerIdentityCommand({}));
    expect(who.Account).toBe(A);
    await context.close();
  });
});
