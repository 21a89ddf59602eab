import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface TestCa {
  caFile: string;
  keyFile: string;
  certFile: string;
}

/**
 * A test CA and a certificate for 127.0.0.1 signed by it, so an upstream is served over real
 * TLS and the portal and controller trust it through --upstream-ca-file (never by turning
 * checks off).
 */
export async function createTestCa(dir: string): Promise<TestCa> {
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
