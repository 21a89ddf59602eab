import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import nodeTls from "node:tls";
import path from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./paths.ts";
import { createTestCa } from "./test-ca.ts";
import { freePort } from "./ports.ts";
import { startServer, waitUntil, type ServerProcess } from "./process.ts";

const run = promisify(execFile);

export interface UpstreamAccount {
  password: string;
  claims: Record<string, unknown>;
}

export interface OidcProvider {
  readonly issuer: string;
  /** The test CA's certificate (PEM) the portal trusts for the provider's TLS. */
  readonly caPem: string;
  readonly caFile: string;
  readonly server: ServerProcess;
  stop(): Promise<void>;
}

/** Starts panva's oidc-provider (test/harness/oidc-provider-server.ts) on a loopback port. */
export async function startOidcProvider(options: {
  workDir: string;
  clients: {
    client_id: string;
    client_secret: string;
    redirect_uris: string[];
    post_logout_redirect_uris: string[];
  }[];
  accounts: Record<string, UpstreamAccount>;
}): Promise<OidcProvider> {
  const dir = path.join(options.workDir, "oidc-provider");
  await run("mkdir", ["-p", dir]);
  const tls = await createTestCa(dir);
  const port = await freePort();
  const issuer = `https://127.0.0.1:${String(port)}`;
  const server = await startServer({
    name: "oidc-provider",
    command: process.execPath,
    args: [path.join(repoRoot, "test/harness/oidc-provider-server.ts")],
    logDir: options.workDir,
    env: {
      NODE_EXTRA_CA_CERTS: tls.caFile,
      IDC_OIDC_PROVIDER: JSON.stringify({
        port,
        issuer,
        keyFile: tls.keyFile,
        certFile: tls.certFile,
        clients: options.clients,
        accounts: options.accounts,
      }),
    },
  });
  const caPem = await readFile(tls.caFile, "utf8");
  // This process (the tests, and the in-process portal) trusts the test CA as the portal
  // process does with --upstream-ca-file: added to the public CAs, nothing turned off.
  nodeTls.setDefaultCACertificates([...nodeTls.getCACertificates("default"), caPem]);
  await waitUntil(
    server,
    async () => (await fetch(`${issuer}/.well-known/openid-configuration`)).ok,
    20_000,
  );
  return {
    issuer,
    caPem,
    caFile: tls.caFile,
    server,
    stop: () => server.stop(),
  };
}
