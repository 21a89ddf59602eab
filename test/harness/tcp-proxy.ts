import { createServer, connect, type Server, type Socket } from "node:net";
import { freePort } from "./ports.ts";

/**
 * A loopback TCP proxy (TLS passes through untouched) that can be turned into a black hole:
 * connections are still accepted, and nothing more goes through in either direction, as when
 * a node's route to the API server dies without a reset. Used to make one replica's API calls
 * (lease renewals included) hang.
 */
export class TcpProxy {
  readonly port: number;
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket | undefined]>();
  private holing = false;

  private constructor(server: Server, port: number) {
    this.server = server;
    this.port = port;
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const port = await freePort();
    const server = createServer();
    const proxy = new TcpProxy(server, port);
    server.on("connection", (client) => {
      proxy.accept(client, targetPort);
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return proxy;
  }

  private accept(client: Socket, targetPort: number): void {
    const pair: [Socket, Socket | undefined] = [client, undefined];
    this.pairs.add(pair);
    client.on("error", () => undefined);
    client.on("close", () => {
      pair[1]?.destroy();
      this.pairs.delete(pair);
    });
    if (this.holing) {
      client.pause(); // accepted, never answered
      return;
    }
    const upstream = connect(targetPort, "127.0.0.1");
    pair[1] = upstream;
    upstream.on("error", () => client.destroy());
    upstream.on("close", () => {
      if (!this.holing) client.destroy();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** From now on nothing passes; open connections stay open and silent. */
  blackHole(): void {
    this.holing = true;
    for (const [client, upstream] of this.pairs) {
      client.unpipe();
      upstream?.unpipe();
      client.pause();
      upstream?.pause();
    }
  }

  async stop(): Promise<void> {
    for (const [client, upstream] of this.pairs) {
      client.destroy();
      upstream?.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
