import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import nodeTls from "node:tls";
import path from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./paths.ts";
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

/**
 * A test CA and a certificate for 127.0.0.1 signed by it, so the provider is served over real
 * TLS and the portal trusts it through --upstream-ca-file (never by turning checks off).
 */
async function testCa(dir: string) {
  const file = (name: string) => path.join(dir, name);
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=identity-center test CA",
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.crt"),
  ]);
  await run("openssl", [
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    file("idp.key"),
    "-out",
    file("idp.csr"),
  ]);
  await run("bash", [
    "-c",
    `printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > "${file("ext.cnf")}"`,
  ]);
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    file("idp.csr"),
    "-CA",
    file("ca.crt"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    file("ext.cnf"),
    "-out",
    file("idp.crt"),
  ]);
  return { caFile: file("ca.crt"), keyFile: file("idp.key"), certFile: file("idp.crt") };
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
  const tls = await testCa(dir);
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
