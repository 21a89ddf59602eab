import {
  CreateTokenCommand,
  RegisterClientCommand,
  SSOOIDCClient,
  StartDeviceAuthorizationCommand,
} from "@aws-sdk/client-sso-oidc";
import { ssoEndpoints } from "../../src/plan/sso-endpoints.ts";

/**
 * A browser over fetch for a portal process on loopback: keeps the session cookie and reads the
 * CSRF token of each page, so a program can sign in and approve a CLI sign-in without Chromium.
 */
export class PortalBrowser {
  cookie = "";
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }

  async request(
    pathOrUrl: string,
    form?: Record<string, string>,
  ): Promise<{ status: number; body: string; location: string | null }> {
    const res = await fetch(new URL(pathOrUrl, this.base), {
      method: form ? "POST" : "GET",
      redirect: "manual",
      headers: {
        cookie: this.cookie,
        ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    const set = res.headers.getSetCookie()[0];
    if (set) this.cookie = set.split(";")[0] ?? "";
    return { status: res.status, body: await res.text(), location: res.headers.get("location") };
  }

  static csrf(html: string): string {
    return /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
  }

  /** Password sign-in; `otp` gives the TOTP code when the instance asks for one. */
  async signIn(userName: string, password: string, otp?: () => string): Promise<void> {
    const login = await this.request("/login");
    let res = await this.request("/login", {
      csrf: PortalBrowser.csrf(login.body),
      username: userName,
      password,
    });
    if (res.status === 303 && res.location === "/login/otp" && otp) {
      const page = await this.request("/login/otp");
      res = await this.request("/login/otp", { csrf: PortalBrowser.csrf(page.body), otp: otp() });
    }
    if (res.status !== 303 || res.location !== "/")
      throw new Error(
        `sign-in of ${userName} answered ${String(res.status)} (to ${String(res.location)})`,
      );
  }
}

export interface DeviceTokens {
  accessToken: string;
  refreshToken: string;
  clientId: string;
  clientSecret: string;
}

/**
 * What `aws sso login --use-device-code` does, with the JS SDK's SSO OIDC client, while the
 * signed-in `browser` opens the verification link and allows it.
 */
export async function deviceFlowTokens(
  browser: PortalBrowser,
  clientName = "harness",
): Promise<DeviceTokens> {
  const oidc = new SSOOIDCClient({
    region: "us-east-1",
    endpoint: ssoEndpoints(browser.base).ssoOidc,
  });
  try {
    const registered = await oidc.send(
      new RegisterClientCommand({
        clientName,
        clientType: "public",
        scopes: ["sso:account:access"],
      }),
    );
    const client = {
      clientId: registered.clientId ?? "",
      clientSecret: registered.clientSecret ?? "",
    };
    const device = await oidc.send(
      new StartDeviceAuthorizationCommand({ ...client, startUrl: browser.base }),
    );
    const page = await browser.request(device.verificationUriComplete ?? "");
    const ticket = /name="ticket" value="([^"]+)"/.exec(page.body)?.[1] ?? "";
    const allowed = await browser.request("/device", {
      csrf: PortalBrowser.csrf(page.body),
      user_code: device.userCode ?? "",
      ticket,
      action: "allow",
    });
    if (allowed.status !== 200 || !allowed.body.includes("Access allowed"))
      throw new Error(`approving the device code answered ${String(allowed.status)}`);
    const tokens = await oidc.send(
      new CreateTokenCommand({
        ...client,
        grantType: "urn:ietf:params:oauth:grant-type:device_code",
        deviceCode: device.deviceCode,
      }),
    );
    return {
      ...client,
      accessToken: tokens.accessToken ?? "",
      refreshToken: tokens.refreshToken ?? "",
    };
  } finally {
    oidc.destroy();
  }
}
