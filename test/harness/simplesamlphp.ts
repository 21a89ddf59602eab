import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import path from "node:path";
import { promisify } from "node:util";
import { toolchainDir } from "../../scripts/toolchain/paths.ts";
import { createSigningIdentity } from "../../src/saml/signing-identity.ts";
import { freePort } from "./ports.ts";
import { startServer, waitUntil } from "./process.ts";
import { createTestCa } from "./test-ca.ts";

const run = promisify(execFile);
let installed: Promise<string> | undefined;

/** SimpleSAMLphp's folder (www/, lib/, modules/), unpacked once by install-simplesamlphp.sh. */
function simpleSamlPhpDir(): Promise<string> {
  installed ??= (async () => {
    if (process.env.IDC_SIMPLESAMLPHP_DIR) return process.env.IDC_SIMPLESAMLPHP_DIR;
    const { stdout } = await run(path.join(toolchainDir, "install-simplesamlphp.sh"), []);
    const line = stdout.split("\n").find((l) => l.startsWith("simplesamlphp="));
    if (!line) throw new Error(`install-simplesamlphp.sh did not report a folder:\n${stdout}`);
    return line.slice("simplesamlphp=".length);
  })();
  return installed;
}

/** A user of the IdP's static user source (exampleauth:UserPass). */
export interface UpstreamUser {
  userName: string;
  password: string;
  email: string;
  groups?: string[];
  /** The AuthnContextClassRef the IdP reports for this user (PasswordProtectedTransport when unset). */
  authnContext?: string;
}

export interface SimpleSamlPhp {
  /** Base URL, on `localhost` so that it is another site than a portal on 127.0.0.1. */
  url: string;
  entityId: string;
  metadataUrl: string;
  /**
   * The same metadata over https (a TLS front on 127.0.0.1, as a reverse proxy would serve
   * it), for the controller's metadataUrl; its CA is `caFile`.
   */
  httpsMetadataUrl: string;
  caFile: string;
  metadataXml: string;
  /** The IdP's signing key: tests re-sign tampered assertions with it. */
  privateKeyPem: string;
  certificatePem: string;
  stop(): Promise<void>;
}

/** PHP source of a value: JSON decoded by PHP, so no string is ever pasted into code. */
const php = (value: unknown) =>
  `json_decode(${JSON.stringify(JSON.stringify(value))}, true, 512, JSON_THROW_ON_ERROR)`;

/**
 * SimpleSAMLphp 1.19 (Debian's package) as a SAML 2.0 IdP on a free loopback port, run by
 * PHP's built-in server with a config of the test's own: a static user source, the given
 * service providers in saml20-sp-remote, assertions signed with a fresh key. Each user's
 * `authnContext` becomes the assertion's AuthnContextClassRef (core:PHP filter), which is how
 * a test makes the IdP report MFA.
 */
export async function startSimpleSamlPhp(options: {
  workDir: string;
  serviceProviders: { entityId: string; acsUrl: string }[];
  users: UpstreamUser[];
}): Promise<SimpleSamlPhp> {
  const home = await simpleSamlPhpDir();
  const root = path.join(options.workDir, "simplesamlphp");
  const dir = (name: string) => path.join(root, name);
  const [config, metadata, cert, data, log, tmp] = [
    dir("config"),
    dir("metadata"),
    dir("cert"),
    dir("data"),
    dir("log"),
    dir("tmp"),
  ];
  for (const d of [config, metadata, cert, data, log, tmp]) await mkdir(d, { recursive: true });
  const port = await freePort();
  const url = `http://localhost:${String(port)}`;
  const identity = createSigningIdentity("upstream SAML IdP (tests)", new Date());
  await writeFile(path.join(cert, "idp.key"), identity.privateKeyPem);
  await writeFile(path.join(cert, "idp.crt"), identity.certificatePem);
  const settings = {
    baseurlpath: `${url}/`,
    certdir: `${cert}/`,
    loggingdir: `${log}/`,
    datadir: `${data}/`,
    tempdir: `${tmp}/`,
    metadatadir: `${metadata}/`,
    secretsalt: "identity-center-operator-tests",
    "auth.adminpassword": "unused-admin-password",
    technicalcontact_email: "nobody@example.org",
    timezone: "UTC",
    "logging.handler": "file",
    "logging.logfile": "simplesamlphp.log",
    "enable.saml20-idp": true,
    "module.enable": { exampleauth: true, core: true, saml: true },
    "session.cookie.secure": false,
    "store.type": "phpsession",
    "language.available": ["en"],
  };
  await writeFile(
    path.join(config, "config.php"),
    `<?php\n$config = ${php(settings)};\n$config['logging.level'] = SimpleSAML\\Logger::INFO;\n`,
  );
  const users = Object.fromEntries(
    options.users.map((u) => [
      `${u.userName}:${u.password}`,
      {
        uid: [u.userName],
        mail: [u.email],
        groups: u.groups ?? [],
        ...(u.authnContext ? { authnContext: [u.authnContext] } : {}),
      },
    ]),
  );
  await writeFile(
    path.join(config, "authsources.php"),
    `<?php\n$config = ['users' => array_merge(['exampleauth:UserPass'], ${php(users)})];\n`,
  );
  await writeFile(
    path.join(metadata, "saml20-idp-hosted.php"),
    `<?php
$metadata['__DYNAMIC:1__'] = [
  'host' => '__DEFAULT__',
  'privatekey' => 'idp.key',
  'certificate' => 'idp.crt',
  'auth' => 'users',
  'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
  'saml20.sign.assertion' => true,
  'authproc' => [
    10 => [
      'class' => 'core:PHP',
      'code' => 'if (isset($attributes["authnContext"])) { $state["saml:AuthnContextClassRef"] = $attributes["authnContext"][0]; unset($attributes["authnContext"]); }',
    ],
  ],
];
`,
  );
  const sps = Object.fromEntries(
    options.serviceProviders.map((sp) => [sp.entityId, { AssertionConsumerService: sp.acsUrl }]),
  );
  await writeFile(
    path.join(metadata, "saml20-sp-remote.php"),
    `<?php\nforeach (${php(sps)} as $id => $sp) { $metadata[$id] = $sp; }\n`,
  );
  const server = await startServer({
    name: "simplesamlphp",
    command: "php",
    args: ["-S", `127.0.0.1:${String(port)}`, "-t", path.join(home, "www")],
    logDir: options.workDir,
    env: { SIMPLESAMLPHP_CONFIG_DIR: config },
  });
  const metadataUrl = `${url}/saml2/idp/metadata.php`;
  let metadataXml = "";
  await waitUntil(
    server,
    async () => {
      const response = await fetch(metadataUrl.replace("localhost", "127.0.0.1"));
      if (!response.ok) return false;
      metadataXml = await response.text();
      return metadataXml.includes("IDPSSODescriptor");
    },
    30_000,
  );
  const front = await startTlsFront(root, port);
  return {
    url,
    entityId: metadataUrl,
    metadataUrl,
    httpsMetadataUrl: `https://127.0.0.1:${String(front.port)}/saml2/idp/metadata.php`,
    caFile: front.caFile,
    metadataXml,
    privateKeyPem: identity.privateKeyPem,
    certificatePem: identity.certificatePem,
    stop: async () => {
      await new Promise<void>((resolve) => front.server.close(() => resolve()));
      await server.stop();
    },
  };
}

/**
 * TLS in front of PHP's built-in server (which speaks only http), in this process: each
 * connection is decrypted with a certificate of a test CA and passed on to the IdP's port.
 */
async function startTlsFront(
  root: string,
  targetPort: number,
): Promise<{ port: number; caFile: string; server: TlsServer }> {
  const dir = path.join(root, "tls");
  await mkdir(dir, { recursive: true });
  const ca = await createTestCa(dir);
  const [key, cert] = await Promise.all([readFile(ca.keyFile), readFile(ca.certFile)]);
  const server = createTlsServer({ key, cert }, (client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { port, caFile: ca.caFile, server };
}
