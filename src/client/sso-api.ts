/**
 * The few SSO OIDC and SSO portal calls `idc` makes, over fetch: the CLI needs no AWS SDK, and
 * the SDKs themselves are what the tests check the server against.
 */
export class SsoCallError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, status: number, message: string) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

async function call<T>(
  url: string,
  init: { method: "GET" | "POST"; body?: unknown; token?: string },
): Promise<T> {
  const res = await fetch(url, {
    method: init.method,
    headers: {
      ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      ...(init.token ? { "x-amz-sso_bearer_token": init.token } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await res.text();
  if (!res.ok) {
    const code = (res.headers.get("x-amzn-errortype") ?? "").split(":")[0] || `HTTP${res.status}`;
    let message = text.slice(0, 300);
    try {
      const body = JSON.parse(text) as { message?: string; error_description?: string };
      message = body.message ?? body.error_description ?? message;
    } catch {
      // not JSON: keep the text
    }
    throw new SsoCallError(code, res.status, `${code}: ${message}`);
  }
  return (text ? JSON.parse(text) : {}) as T;
}

export interface Registration {
  clientId: string;
  clientSecret: string;
  clientSecretExpiresAt: number;
  authorizationEndpoint?: string;
}

/** The redirect URI registered for the PKCE flow; the listener's port is added per login. */
export const LOOPBACK_REDIRECT = "http://127.0.0.1/oauth/callback";

export interface Tokens {
  accessToken: string;
  expiresIn: number;
  refreshToken?: string;
}

export class SsoApi {
  private readonly endpoints: { ssoOidc: string; ssoPortal: string };
  constructor(endpoints: { ssoOidc: string; ssoPortal: string }) {
    this.endpoints = endpoints;
  }

  /**
   * Registers `idc` for the device flow, or (`pkce`) for the authorization-code flow with a
   * loopback redirect: registered without a port, as the AWS CLI does (any port then matches).
   */
  register(clientName: string, flow: "device" | "pkce" = "device"): Promise<Registration> {
    return call(`${this.endpoints.ssoOidc}/client/register`, {
      method: "POST",
      body: {
        clientName,
        clientType: "public",
        scopes: ["sso:account:access"],
        ...(flow === "pkce"
          ? {
              grantTypes: ["authorization_code", "refresh_token"],
              redirectUris: [LOOPBACK_REDIRECT],
            }
          : { grantTypes: ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"] }),
      },
    });
  }

  /** Where a browser approves an authorization-code request: the OIDC host's /authorize. */
  authorizeUrl(
    registration: Registration,
    request: { redirectUri: string; state: string; challenge: string },
  ): string {
    const url = new URL(
      registration.authorizationEndpoint ?? `${new URL(this.endpoints.ssoOidc).origin}/authorize`,
    );
    for (const [k, v] of Object.entries({
      response_type: "code",
      client_id: registration.clientId,
      redirect_uri: request.redirectUri,
      state: request.state,
      code_challenge_method: "S256",
      scopes: "sso:account:access",
      code_challenge: request.challenge,
    }))
      url.searchParams.set(k, v);
    return url.toString();
  }

  startDeviceAuthorization(client: Registration, startUrl: string) {
    return call<{
      deviceCode: string;
      userCode: string;
      verificationUri: string;
      verificationUriComplete: string;
      expiresIn: number;
      interval: number;
    }>(`${this.endpoints.ssoOidc}/device_authorization`, {
      method: "POST",
      body: { clientId: client.clientId, clientSecret: client.clientSecret, startUrl },
    });
  }

  createToken(
    client: { clientId: string; clientSecret: string },
    grant:
      | { deviceCode: string }
      | { refreshToken: string }
      | { code: string; redirectUri: string; codeVerifier: string },
  ): Promise<Tokens> {
    return call(`${this.endpoints.ssoOidc}/token`, {
      method: "POST",
      body: {
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        ...("deviceCode" in grant
          ? {
              grantType: "urn:ietf:params:oauth:grant-type:device_code",
              deviceCode: grant.deviceCode,
            }
          : "code" in grant
            ? { grantType: "authorization_code", ...grant }
            : { grantType: "refresh_token", refreshToken: grant.refreshToken }),
      },
    });
  }

  async listAccounts(token: string) {
    const accounts: { accountId: string; accountName: string }[] = [];
    let next: string | undefined;
    do {
      const q = new URLSearchParams({ max_result: "100", ...(next ? { next_token: next } : {}) });
      const page = await call<{ accountList: typeof accounts; nextToken?: string }>(
        `${this.endpoints.ssoPortal}/assignment/accounts?${q.toString()}`,
        { method: "GET", token },
      );
      accounts.push(...page.accountList);
      next = page.nextToken;
    } while (next);
    return accounts;
  }

  async listAccountRoles(token: string, accountId: string) {
    const roles: { roleName: string; accountId: string }[] = [];
    let next: string | undefined;
    do {
      const q = new URLSearchParams({
        account_id: accountId,
        max_result: "100",
        ...(next ? { next_token: next } : {}),
      });
      const page = await call<{ roleList: typeof roles; nextToken?: string }>(
        `${this.endpoints.ssoPortal}/assignment/roles?${q.toString()}`,
        { method: "GET", token },
      );
      roles.push(...page.roleList);
      next = page.nextToken;
    } while (next);
    return roles;
  }

  getRoleCredentials(token: string, accountId: string, roleName: string) {
    const q = new URLSearchParams({ account_id: accountId, role_name: roleName });
    return call<{
      roleCredentials: {
        accessKeyId: string;
        secretAccessKey: string;
        sessionToken: string;
        expiration: number;
      };
    }>(`${this.endpoints.ssoPortal}/federation/credentials?${q.toString()}`, {
      method: "GET",
      token,
    });
  }

  logout(token: string): Promise<unknown> {
    return call(`${this.endpoints.ssoPortal}/logout`, { method: "POST", token });
  }
}
