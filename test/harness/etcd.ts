import { mkdtemp, rm } from "node:fs/promises";
import path from "node:path";
import { freePort } from "./ports.ts";
import { startServer, waitUntil, type ServerProcess } from "./process.ts";

export interface Etcd {
  readonly url: string;
  /** Its guard script's pid (etcd is a child of it). */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

/** Starts a single-member etcd with envtest's flags on free loopback ports. */
export async function startEtcd(binary: string, workDir: string): Promise<Etcd> {
  const dataDir = await mkdtemp(path.join(workDir, "etcd-"));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${clientPort}`;
  const server: ServerProcess = await startServer({
    name: "etcd",
    command: binary,
    args: [
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ],
    logDir: workDir,
  });
  await waitUntil(server, async () => (await fetch(`${url}/health`)).ok, 30_000);
  return {
    url,
    pid: server.pid,
    async stop() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
