import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { freePort } from "./ports.ts";

/**
 * What the proxy does to a request instead of passing it on:
 * - `error`: answers with an AWS-style error (`status`, `code`), after `delayMs`;
 * - `reset`: cuts the connection before moto sees the request (ECONNRESET at the client);
 * - `lostResponse`: lets moto carry the request out, then cuts the connection instead of
 *   answering (the change happened; the client cannot know);
 * - `blackHole`: accepts the request and never answers, like an account behind a dead route.
 */
export type Fault =
  | {
      kind: "error";
      status: 400 | 403 | 500 | 503;
      code: string;
      delayMs?: number;
      /** The error's Message; "injected by the test" when unset. */
      message?: string;
    }
  | { kind: "reset" }
  | { kind: "lostResponse" }
  | { kind: "blackHole" };

/** What the proxy knows of a request when it decides. */
export interface RequestInfo {
  /** IAM/STS query action, for example CreateRole. */
  action: string;
  /** The service the request is signed for (iam, sts), from its SigV4 credential scope. */
  service: string;
  /** The AWS account the request is about, when known (see FaultProxy); else "". */
  account: string;
  /** The decoded form body. */
  body: string;
}

export interface FaultRule {
  /** The action to fail; any action when unset. */
  action?: string;
  /** Only requests whose form body contains this text (for example a role ARN). */
  bodyContains?: string;
  /** Only requests about this account (AssumeRole into it, calls with its credentials). */
  account?: string;
  /** How many matching requests to fail before letting them through (Infinity: all). */
  times: number;
  /** An AWS-style error answer (the default fault, kept for the rules written before). */
  status?: 400 | 403 | 500 | 503;
  code?: string;
  /** Hold the error response this long first. */
  delayMs?: number;
  /** Another fault than an error answer. */
  fault?: "reset" | "lostResponse" | "blackHole";
}

export interface InjectedFault {
  fault: Fault["kind"];
  /** The error code answered, for an `error` fault. */
  code?: string;
  action: string;
  account: string;
}

const ROLE_ARN_ACCOUNT = /RoleArn=arn:[\w-]+:iam::(\d{12}):/;
const CREDENTIAL_KEY = /Credential=([A-Z0-9]+)\//;
const CREDENTIAL_SERVICE = /Credential=[^/]+\/\d{8}\/[^/]+\/([a-z0-9-]+)\/aws4_request/;

/**
 * mulberry32: small, seeded, good enough to pick moments and faults reproducibly (the same seed
 * gives the same sequence of numbers in [0, 1)).
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A chooser (FaultProxy.setChooser) that answers a share `rate` of one service's calls the way
 * AWS throttles them: HTTP 400, `<Code>Throttling</Code>`, "Rate exceeded". The calls are
 * picked by a seeded random sequence (`seededRandom`), so two runs of the same calls in the same
 * order are throttled alike and a run can be repeated.
 */
export function seededThrottling(options: {
  rate: number;
  seed: number;
  service?: string;
}): (info: RequestInfo) => Fault | undefined {
  const service = options.service ?? "iam";
  const next = seededRandom(options.seed);
  return (info) =>
    info.service === service && next() < options.rate
      ? { kind: "error", status: 400, code: "Throttling", message: "Rate exceeded" }
      : undefined;
}

/**
 * A loopback HTTP proxy in front of moto that injects faults (moto has none): chosen by rules
 * (first matching rule with `times` left) or by a `choose` function, for example a seeded
 * random one. It learns which account each access key belongs to from the AssumeRole answers
 * it passes on, so a rule can black-hole one account's STS and IAM traffic alike.
 */
export class FaultProxy {
  /** Faults injected, by action. */
  readonly injected = new Map<string, number>();
  /** Every fault injected, in order. */
  readonly history: InjectedFault[] = [];
  readonly url: string;
  /** Requests passed to moto. */
  forwarded = 0;
  /** Every request seen, by action (injected or passed on), so a test can count writes. */
  readonly seen = new Map<string, number>();
  private rules: FaultRule[] = [];
  private choose: ((info: RequestInfo) => Fault | undefined) | undefined;
  private readonly server: Server;
  private readonly keyAccounts = new Map<string, string>();
  private readonly held = new Set<ServerResponse>();
  private readonly target: string;

  private constructor(server: Server, url: string, target: string) {
    this.server = server;
    this.url = url;
    this.target = target;
  }

  static async start(target: string, rules: FaultRule[] = []): Promise<FaultProxy> {
    const port = await freePort();
    const server = createServer();
    const proxy = new FaultProxy(server, `http://127.0.0.1:${String(port)}`, target);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      proxy.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    proxy.setRules(rules);
    return proxy;
  }

  /** Replaces the rules (for example to end a black hole); counts start afresh. */
  setRules(rules: FaultRule[]): void {
    this.rules = rules.map((r) => ({ ...r }));
  }

  /** Decides every request not matched by a rule; undefined passes it on. */
  setChooser(choose: ((info: RequestInfo) => Fault | undefined) | undefined): void {
    this.choose = choose;
  }

  /** Requests seen so far whose action matches `filter`. */
  count(filter: (action: string) => boolean): number {
    return [...this.seen].filter(([a]) => filter(a)).reduce((sum, [, n]) => sum + n, 0);
  }

  /** Requests accepted and never answered, still open. */
  heldRequests(): number {
    return this.held.size;
  }

  private accountOf(req: IncomingMessage, body: string): string {
    const assumed = ROLE_ARN_ACCOUNT.exec(body)?.[1];
    if (assumed) return assumed;
    const key = CREDENTIAL_KEY.exec(req.headers.authorization ?? "")?.[1];
    return (key && this.keyAccounts.get(key)) ?? "";
  }

  private decide(info: RequestInfo): Fault | undefined {
    const rule = this.rules.find(
      (r) =>
        r.times > 0 &&
        (r.action === undefined || r.action === info.action) &&
        (r.account === undefined || r.account === info.account) &&
        (r.bodyContains === undefined || info.body.includes(r.bodyContains)),
    );
    if (rule) {
      rule.times--;
      if (rule.fault) return { kind: rule.fault };
      return {
        kind: "error",
        status: rule.status ?? 500,
        code: rule.code ?? "ServiceFailure",
        ...(rule.delayMs !== undefined ? { delayMs: rule.delayMs } : {}),
      };
    }
    return this.choose?.(info);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const text = raw.toString("utf8");
      const params = new URLSearchParams(text);
      const info: RequestInfo = {
        action: params.get("Action") ?? "",
        service: CREDENTIAL_SERVICE.exec(req.headers.authorization ?? "")?.[1] ?? "",
        account: "",
        body: [...params.entries()].map(([k, v]) => `${k}=${v}`).join("&"),
      };
      info.account = this.accountOf(req, info.body);
      this.seen.set(info.action, (this.seen.get(info.action) ?? 0) + 1);
      const fault = this.decide(info);
      if (fault) {
        this.injected.set(info.action, (this.injected.get(info.action) ?? 0) + 1);
        this.history.push({
          fault: fault.kind,
          action: info.action,
          account: info.account,
          ...(fault.kind === "error" ? { code: fault.code } : {}),
        });
      }
      switch (fault?.kind) {
        case "error":
          setTimeout(() => {
            res.writeHead(fault.status, { "content-type": "text/xml" });
            res.end(
              `<ErrorResponse><Error><Type>${fault.status >= 500 ? "Receiver" : "Sender"}</Type><Code>${fault.code}</Code><Message>${fault.message ?? "injected by the test"}</Message></Error><RequestId>fault</RequestId></ErrorResponse>`,
            );
          }, fault.delayMs ?? 0);
          return;
        case "reset":
          req.socket.destroy();
          return;
        case "blackHole":
          this.held.add(res);
          res.on("close", () => this.held.delete(res));
          return;
        case "lostResponse":
          this.forward(req, raw, info, () => {
            req.socket.destroy();
          });
          return;
        case undefined:
          this.forward(req, raw, info, (status, headers, body) => {
            res.writeHead(status, headers);
            res.end(body);
          });
      }
    });
  }

  private forward(
    req: IncomingMessage,
    body: Buffer,
    info: RequestInfo,
    answer: (status: number, headers: IncomingMessage["headers"], body: Buffer) => void,
  ): void {
    this.forwarded++;
    const upstream = request(
      `${this.target}${req.url ?? "/"}`,
      { method: req.method, headers: req.headers },
      (up) => {
        const chunks: Buffer[] = [];
        up.on("data", (c: Buffer) => chunks.push(c));
        up.on("end", () => {
          const answerBody = Buffer.concat(chunks);
          if (info.action === "AssumeRole" && info.account) {
            const key = /<AccessKeyId>([^<]+)<\/AccessKeyId>/.exec(
              answerBody.toString("utf8"),
            )?.[1];
            if (key) this.keyAccounts.set(key, info.account);
          }
          answer(up.statusCode ?? 502, up.headers, answerBody);
        });
      },
    );
    upstream.on("error", () => answer(502, {}, Buffer.alloc(0)));
    upstream.end(body);
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Held (black-holed, delayed) requests must not keep it open.
    this.server.closeAllConnections();
    for (const res of this.held) res.socket?.destroy();
    await closed;
  }
}
