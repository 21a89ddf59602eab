import { createServer, request, type Server } from "node:http";
import { freePort } from "./ports.ts";

export interface FaultRule {
  /** IAM/STS query action, for example CreateRole. */
  action: string;
  /** Only requests whose form body contains this text (for example a role ARN). */
  bodyContains?: string;
  /** How many matching requests to fail before letting them through. */
  times: number;
  status: 400 | 403 | 500 | 503;
  code: string;
  /** Hold the failing response this long first, like an account that does not answer. */
  delayMs?: number;
}

/**
 * A loopback HTTP proxy in front of moto that fails the first requests of chosen actions with
 * AWS-style errors (moto has no fault injection). Counts what it injected.
 */
export class FaultProxy {
  readonly injected: Map<string, number>;
  readonly url: string;
  private readonly server: Server;

  private constructor(server: Server, url: string, injected: Map<string, number>) {
    this.server = server;
    this.url = url;
    this.injected = injected;
  }

  static async start(target: string, rules: FaultRule[]): Promise<FaultProxy> {
    const port = await freePort();
    const remaining = rules.map((r) => ({ ...r }));
    const injected = new Map<string, number>();
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const text = body.toString("utf8");
        const action = new URLSearchParams(text).get("Action") ?? "";
        const rule = remaining.find(
          (r) =>
            r.action === action &&
            r.times > 0 &&
            (r.bodyContains === undefined || decodeURIComponent(text).includes(r.bodyContains)),
        );
        if (rule) {
          rule.times--;
          injected.set(action, (injected.get(action) ?? 0) + 1);
          setTimeout(() => {
            res.writeHead(rule.status, { "content-type": "text/xml" });
            res.end(
              `<ErrorResponse><Error><Type>${rule.status >= 500 ? "Receiver" : "Sender"}</Type><Code>${rule.code}</Code><Message>injected by the test</Message></Error><RequestId>fault</RequestId></ErrorResponse>`,
            );
          }, rule.delayMs ?? 0);
          return;
        }
        const upstream = request(
          `${target}${req.url ?? "/"}`,
          { method: req.method, headers: req.headers },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          },
        );
        upstream.on("error", () => res.writeHead(502).end());
        upstream.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return new FaultProxy(server, `http://127.0.0.1:${String(port)}`, injected);
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections(); // held (delayed) responses must not keep it open
    await closed;
  }
}
