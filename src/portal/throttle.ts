import rateLimit from "@fastify/rate-limit";
import type { FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { httpError } from "./errors.ts";

export interface ThrottleLimit {
  max: number;
  /** ms; one minute when unset. */
  timeWindow?: number;
}

/** How many credential checks (password, code, setup) the portal takes per window. */
export interface ThrottleOptions {
  /** From one client address (as the trusted proxy hops report it). */
  perAddress: ThrottleLimit;
  /**
   * From all addresses together. The CPU and memory of password checks are bounded by the hash
   * slots and their queue (hash-gate.ts, 503 beyond them); this is a backstop above that
   * capacity, not below it, or a morning's sign-ins would meet 429s before the CPU is busy.
   */
  global: ThrottleLimit;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  perAddress: { max: 20, timeWindow: 60_000 },
  // 100/s: above what a pod's hash slots check (about 30/s per core at OWASP's cost).
  global: { max: 6000, timeWindow: 60_000 },
};

declare module "fastify" {
  interface FastifyInstance {
    /** preHandler of every route that checks a credential (see `credentialThrottle`). */
    throttleCredentialChecks: (req: FastifyRequest) => Promise<void>;
  }
}

/**
 * Per-address and global limits on the routes that check a credential, with
 * `@fastify/rate-limit`'s in-memory store (per replica). A request refused by its address's
 * limit does not count against the global one, so one noisy address cannot lock everyone out.
 * Refusals are 429 error pages with Retry-After.
 */
export const credentialThrottle = fp(
  async (app) => {
    const options = app.portal.throttle;
    await app.register(rateLimit, { global: false });
    const limiters = [
      app.createRateLimit({
        max: options.perAddress.max,
        timeWindow: options.perAddress.timeWindow ?? 60_000,
        keyGenerator: (req) => `address:${req.ip}`,
      }),
      app.createRateLimit({
        max: options.global.max,
        timeWindow: options.global.timeWindow ?? 60_000,
        keyGenerator: () => "global",
      }),
    ];
    app.decorate("throttleCredentialChecks", async (req: FastifyRequest) => {
      for (const limiter of limiters) {
        const result = await limiter(req);
        if (!result.isAllowed && result.isExceeded)
          throw httpError(
            429,
            `Too many requests. Try again in ${String(result.ttlInSeconds)} seconds.`,
            { "retry-after": String(result.ttlInSeconds) },
          );
      }
    });
  },
  { name: "portal-credential-throttle", fastify: "5.x", dependencies: ["portal-context"] },
);
