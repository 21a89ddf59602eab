import type { KubeConfig, V1Secret } from "@kubernetes/client-node";
import { getGlobalDispatcher, type Dispatcher } from "undici";

/** A refused call, shaped like client-node's errors (`code`, `body`) for `apiStatusCode`. */
export class SecretRequestError extends Error {
  readonly code: number;
  readonly body: string;
  constructor(code: number, body: string) {
    super(`HTTP ${String(code)}: ${body.slice(0, 200)}`);
    this.name = "SecretRequestError";
    this.code = code;
    this.body = body;
  }
}

interface Connection {
  /** The API server's origin and the path prefix the kubeconfig's server URL may carry. */
  origin: string;
  prefix: string;
  headers: Record<string, string>;
  dispatcher: Dispatcher;
  at: number;
}

/**
 * One request through the dispatcher's own interface, the body gathered as it comes: undici's
 * `request()` wraps each answer in a Readable stream (and its listeners) only for `.text()` to
 * read it back out, a few per cent of a sign-in's main-thread CPU.
 */
function send(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let status = 0;
    const chunks: Buffer[] = [];
    dispatcher.dispatch(options, {
      onRequestStart: () => {
        // nothing to set up: the answer is gathered below
      },
      onResponseStart: (_controller, statusCode) => {
        status = statusCode;
      },
      onResponseData: (_controller, chunk) => {
        chunks.push(chunk);
      },
      onResponseEnd: () => {
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        resolve({ status, text: body ? body.toString("utf8") : "" });
      },
      onResponseError: (_controller, err) => {
        reject(err);
      },
    });
  });
}

// Token files and exec credentials are read again this often (and at once after a 401), as
// client-node would on every call: projected ServiceAccount tokens rotate well before this.
const AUTH_TTL_MS = 60_000;

/**
 * Get, replace and create of the Secrets of one namespace, with the kubeconfig's credentials and
 * connection pool, without client-node's per-call work. A sign-in reads and writes a credential
 * Secret three times: through the generated client each call cost about 3 ms of CPU (it works out
 * the credentials and TLS options again and walks each object through its type serializer),
 * about as much as a tenth of the password hash; this costs well under 1 ms.
 */
export class SecretRequests {
  private readonly kubeConfig: KubeConfig;
  private readonly base: string;
  private connection: Promise<Connection> | undefined;

  constructor(kubeConfig: KubeConfig, namespace: string) {
    this.kubeConfig = kubeConfig;
    this.base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  }

  private async connect(): Promise<Connection> {
    const server = this.kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new Error("the kubeconfig has no current cluster");
    const headers: Record<string, string> = {};
    let dispatcher: Dispatcher | undefined;
    await this.kubeConfig.applySecurityAuthentication({
      setHeaderParam: (key: string, value: string) => {
        headers[key] = value;
      },
      setDispatcher: (d: Dispatcher) => {
        dispatcher = d;
      },
    } as unknown as Parameters<KubeConfig["applySecurityAuthentication"]>[0]);
    const url = new URL(server);
    return {
      origin: url.origin,
      prefix: url.pathname.replace(/\/$/, ""),
      headers: { ...headers, accept: "application/json" },
      // No TLS options of its own (plain http): what undici's request() would use.
      dispatcher: dispatcher ?? getGlobalDispatcher(),
      at: Date.now(),
    };
  }

  private async current(): Promise<Connection> {
    const known = this.connection && (await this.connection);
    if (known && Date.now() - known.at < AUTH_TTL_MS) return known;
    const next = this.connect();
    this.connection = next;
    next.catch(() => {
      if (this.connection === next) this.connection = undefined;
    });
    return next;
  }

  private async call(method: "GET" | "PUT" | "POST", path: string, body?: V1Secret) {
    for (let attempt = 0; ; attempt++) {
      const c = await this.current();
      const { status, text } = await send(c.dispatcher, {
        origin: c.origin,
        path: `${c.prefix}${this.base}${path}`,
        method,
        headers: body ? { ...c.headers, "content-type": "application/json" } : c.headers,
        ...(body ? { body: JSON.stringify({ apiVersion: "v1", kind: "Secret", ...body }) } : {}),
      });
      if (status === 401 && attempt === 0) {
        // Credentials rotated since they were read: read them again, once.
        this.connection = undefined;
        continue;
      }
      if (status >= 300) throw new SecretRequestError(status, text);
      return JSON.parse(text) as V1Secret;
    }
  }

  /** The Secret, or undefined when there is none. */
  async read(name: string): Promise<V1Secret | undefined> {
    try {
      return await this.call("GET", `/${encodeURIComponent(name)}`);
    } catch (err) {
      if (err instanceof SecretRequestError && err.code === 404) return undefined;
      throw err;
    }
  }

  /** A conditional write when `body` carries a resourceVersion (409 when it is stale). */
  replace(name: string, body: V1Secret): Promise<V1Secret> {
    return this.call("PUT", `/${encodeURIComponent(name)}`, body);
  }

  create(body: V1Secret): Promise<V1Secret> {
    return this.call("POST", "", body);
  }
}
