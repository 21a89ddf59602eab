import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { portalUrl } from "../../plan/naming.ts";
import { SCIM_PATH, scimBaseUrl } from "../../plan/sso-endpoints.ts";
import { ScimError } from "../../plan/scim/errors.ts";
import {
  resourceTypeDocuments,
  schemaDocuments,
  serviceProviderConfig,
  LIST_SCHEMA,
} from "../../plan/scim/schemas.ts";
import { verifyScimToken } from "../../plan/scim/tokens.ts";
import type { ScimBackend } from "./directory.ts";
import { ScimService, project, type ListQuery } from "./service.ts";

export type { ScimBackend, ScimObjects } from "./directory.ts";

export const SCIM_PREFIX = SCIM_PATH;
const SCIM_TYPE = "application/scim+json; charset=utf-8";
/** A PATCH of 10,000 members is about 600 KiB; the Group object itself stays far below etcd's limit. */
const BODY_LIMIT = 4 * 1024 * 1024;
const DEFAULT_RATE = { max: 6000, timeWindow: 60_000 };

type Json = Record<string, unknown>;

declare module "fastify" {
  interface FastifyRequest {
    /** The name of the SCIM token the request carried (set once it is checked). */
    scimToken: string | undefined;
  }
}

function send(reply: FastifyReply, status: number, body: unknown, etag?: string): FastifyReply {
  reply.code(status).type(SCIM_TYPE);
  if (etag) reply.header("etag", etag);
  return reply.send(JSON.stringify(body));
}

/** Fastify's own errors and HttpErrors (the throttle's 429) in SCIM's error format. */
function asScimError(err: unknown): { error: ScimError; headers?: Record<string, string> } {
  if (err instanceof ScimError) return { error: err };
  const e = err as {
    statusCode?: number;
    message?: string;
    code?: string;
    headers?: Record<string, string>;
  };
  const status = e.statusCode ?? 500;
  if (status >= 500) return { error: new ScimError(500, "internal error; see the portal's log") };
  const scimType =
    e.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE"
      ? undefined
      : status === 400
        ? "invalidSyntax"
        : undefined;
  return {
    error: new ScimError(status, e.message ?? "bad request", scimType),
    ...(e.headers ? { headers: e.headers } : {}),
  };
}

/**
 * The SCIM 2.0 service provider (RFC 7643/7644) at `<portal URL>/scim/v2`, for identity
 * providers that push users and groups (Entra ID, Okta). Answers only when the instance has
 * `spec.identitySource.scim.enabled`, only to a bearer token made by `idc scim-token create`,
 * and only in SCIM's JSON and error formats. See docs/adr/0017-scim.md.
 */
export function scimRoutes(app: FastifyInstance, options: { backend: ScimBackend }): Promise<void> {
  const portal = app.portal;
  const { backend } = options;
  const base = () => scimBaseUrl(portalUrl(portal.instance()));
  const service = new ScimService(portal.stores, backend, portal.now, base);
  const rate = backend.rateLimit ?? DEFAULT_RATE;
  const limiter = app.createRateLimit({
    max: rate.max,
    timeWindow: rate.timeWindow ?? 60_000,
    keyGenerator: (req) => `scim:${req.ip}`,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ["application/scim+json", "application/json"],
    { parseAs: "string", bodyLimit: BODY_LIMIT },
    (_req, body, done) => {
      try {
        done(null, body === "" ? undefined : JSON.parse(String(body)));
      } catch {
        done(new ScimError(400, "the body is not JSON", "invalidSyntax"), undefined);
      }
    },
  );
  app.decorateRequest("scimToken", undefined);

  app.setErrorHandler(async (err, req, reply) => {
    const { error, headers } = asScimError(err);
    if (error.status >= 500) req.log.error({ err }, "SCIM request failed");
    for (const [k, v] of Object.entries(headers ?? {})) reply.header(k, v);
    return send(reply, error.status, error.body());
  });
  app.setNotFoundHandler(async (req, reply) =>
    send(
      reply,
      404,
      new ScimError(404, `no SCIM endpoint ${req.method} ${req.url.split("?")[0] ?? ""}`).body(),
    ),
  );

  // Every request: the instance must accept SCIM, the address be within its limit, and the
  // token valid. A request with a bad token also counts against the credential throttle.
  app.addHook("onRequest", async (req: FastifyRequest, reply: FastifyReply) => {
    const ic = portal.findInstance();
    if (!ic?.spec.identitySource.scim?.enabled)
      throw new ScimError(
        404,
        "SCIM provisioning is not enabled on this instance (spec.identitySource.scim.enabled)",
      );
    const limit = await limiter(req);
    if (!limit.isAllowed && limit.isExceeded) {
      reply.header("retry-after", String(limit.ttlInSeconds));
      throw new ScimError(
        429,
        `too many requests; try again in ${String(limit.ttlInSeconds)} seconds`,
      );
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    let name: string | undefined;
    if (m?.[1]) {
      let records;
      try {
        records = await backend.tokens();
      } catch (err) {
        req.log.error({ err: String(err) }, "reading the SCIM tokens failed");
        throw new ScimError(503, "the SCIM tokens cannot be read right now; try again");
      }
      name = verifyScimToken(m[1], records, portal.now());
    }
    if (!name) {
      await app.throttleCredentialChecks(req);
      reply.header("www-authenticate", 'Bearer realm="scim"');
      throw new ScimError(401, "a valid SCIM bearer token is required (idc scim-token create)");
    }
    req.scimToken = name;
  });

  const json = (req: FastifyRequest): Json => {
    if (typeof req.body !== "object" || req.body === null || Array.isArray(req.body))
      throw new ScimError(400, "the body must be a JSON object", "invalidSyntax");
    return req.body as Json;
  };
  const ifMatch = (req: FastifyRequest) => {
    const v = req.headers["if-match"];
    return Array.isArray(v) ? v.join(",") : v;
  };
  const notModified = (req: FastifyRequest, etag: string) => {
    const v = req.headers["if-none-match"];
    return typeof v === "string" && v.split(",").some((t) => t.trim() === etag || t.trim() === "*");
  };
  const listResponse = (items: unknown[]) => ({
    schemas: [LIST_SCHEMA],
    totalResults: items.length,
    itemsPerPage: items.length,
    startIndex: 1,
    Resources: items,
  });

  /** A POST /.search body (RFC 7644 3.4.3) as the query a GET would carry. */
  const searchQuery = (req: FastifyRequest): ListQuery => {
    const body = json(req);
    const text = (v: unknown) =>
      typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
    const names = (v: unknown) => (Array.isArray(v) ? v.map(String).join(",") : text(v));
    const q: ListQuery = {};
    const filter = text(body.filter);
    const startIndex = text(body.startIndex);
    const count = text(body.count);
    const attributes = names(body.attributes);
    const excludedAttributes = names(body.excludedAttributes);
    if (filter !== undefined) q.filter = filter;
    if (startIndex !== undefined) q.startIndex = startIndex;
    if (count !== undefined) q.count = count;
    if (attributes !== undefined) q.attributes = attributes;
    if (excludedAttributes !== undefined) q.excludedAttributes = excludedAttributes;
    return q;
  };
  app.post("/.search", async (req, reply) =>
    send(reply, 200, service.list("all", searchQuery(req), base())),
  );
  app.post("/Users/.search", async (req, reply) =>
    send(reply, 200, service.list("User", searchQuery(req), base())),
  );
  app.post("/Groups/.search", async (req, reply) =>
    send(reply, 200, service.list("Group", searchQuery(req), base())),
  );

  // ---- discovery (RFC 7644 4) ------------------------------------------------------------
  // Read-only: any other method is a 405 (RFC 7644 4).
  for (const url of [
    "/ServiceProviderConfig",
    "/ResourceTypes",
    "/ResourceTypes/:id",
    "/Schemas",
    "/Schemas/:id",
  ])
    app.route({
      method: ["POST", "PUT", "PATCH", "DELETE"],
      url,
      handler: async (req, reply) => {
        reply.header("allow", "GET");
        return send(
          reply,
          405,
          new ScimError(
            405,
            `${req.method} is not allowed here: discovery endpoints are read-only`,
          ).body(),
        );
      },
    });
  app.get("/ServiceProviderConfig", async (_req, reply) =>
    send(reply, 200, serviceProviderConfig(base(), `${portalUrl(portal.instance())}/`)),
  );
  app.get("/ResourceTypes", async (_req, reply) =>
    send(reply, 200, listResponse(resourceTypeDocuments(base()))),
  );
  app.get<{ Params: { id: string } }>("/ResourceTypes/:id", async (req, reply) => {
    const found = resourceTypeDocuments(base()).find((r) => r.id === req.params.id);
    if (!found) throw new ScimError(404, `no resource type ${req.params.id}`);
    return send(reply, 200, found);
  });
  app.get("/Schemas", async (_req, reply) =>
    send(reply, 200, listResponse(schemaDocuments(base()))),
  );
  app.get<{ Params: { id: string } }>("/Schemas/:id", async (req, reply) => {
    const found = schemaDocuments(base()).find((s) => s.id === req.params.id);
    if (!found) throw new ScimError(404, `no schema ${req.params.id}`);
    return send(reply, 200, found);
  });

  // ---- Users and Groups ------------------------------------------------------------------
  // The ETag is the resource's meta.version: a hash of the whole representation.
  const version = (body: Json) => String((body.meta as { version?: string }).version);
  const sendResource = (reply: FastifyReply, status: number, body: Json) => {
    if (status === 201) reply.header("location", String((body.meta as Json).location));
    return send(reply, status, body, version(body));
  };
  const sendOne = (
    req: FastifyRequest<{ Querystring: ListQuery }>,
    reply: FastifyReply,
    full: Json,
    shown: Json,
  ) => {
    if (notModified(req, version(full)))
      return reply.code(304).header("etag", version(full)).send();
    return send(
      reply,
      200,
      project(shown, req.query.attributes, req.query.excludedAttributes),
      version(full),
    );
  };
  const userJson = (user: Parameters<ScimService["userJson"]>[0]) => service.userJson(user, base());
  const groupJson = (group: Parameters<ScimService["groupJson"]>[0]) =>
    service.groupJson(group, base());

  app.get<{ Querystring: ListQuery }>("/Users", async (req, reply) =>
    send(reply, 200, service.list("User", req.query, base())),
  );
  app.post("/Users", async (req, reply) =>
    sendResource(reply, 201, userJson(await service.createUser(json(req)))),
  );
  app.get<{ Params: { id: string }; Querystring: ListQuery }>("/Users/:id", async (req, reply) => {
    const body = userJson(await service.loadUser(req.params.id));
    return sendOne(req, reply, body, body);
  });
  app.put<{ Params: { id: string } }>("/Users/:id", async (req, reply) =>
    sendResource(
      reply,
      200,
      userJson(await service.replaceUser(req.params.id, json(req), ifMatch(req))),
    ),
  );
  app.patch<{ Params: { id: string } }>("/Users/:id", async (req, reply) =>
    sendResource(
      reply,
      200,
      userJson(await service.patchUser(req.params.id, req.body, ifMatch(req), base())),
    ),
  );
  app.delete<{ Params: { id: string } }>("/Users/:id", async (req, reply) => {
    await service.deleteUser(req.params.id, ifMatch(req));
    return reply.code(204).send();
  });

  app.get<{ Querystring: ListQuery }>("/Groups", async (req, reply) =>
    send(reply, 200, service.list("Group", req.query, base())),
  );
  app.post("/Groups", async (req, reply) =>
    sendResource(reply, 201, groupJson(await service.createGroup(json(req)))),
  );
  app.get<{ Params: { id: string }; Querystring: ListQuery }>("/Groups/:id", async (req, reply) => {
    const group = await service.loadGroup(req.params.id);
    const excludeMembers = (req.query.excludedAttributes ?? "")
      .toLowerCase()
      .split(",")
      .map((a) => a.trim())
      .includes("members");
    const full = groupJson(group);
    return sendOne(
      req,
      reply,
      full,
      excludeMembers ? service.groupJson(group, base(), true) : full,
    );
  });
  app.put<{ Params: { id: string } }>("/Groups/:id", async (req, reply) =>
    sendResource(
      reply,
      200,
      groupJson(await service.replaceGroup(req.params.id, json(req), ifMatch(req))),
    ),
  );
  app.patch<{ Params: { id: string } }>("/Groups/:id", async (req, reply) =>
    sendResource(
      reply,
      200,
      groupJson(await service.patchGroup(req.params.id, req.body, ifMatch(req), base())),
    ),
  );
  app.delete<{ Params: { id: string } }>("/Groups/:id", async (req, reply) => {
    await service.deleteGroup(req.params.id, ifMatch(req));
    return reply.code(204).send();
  });
  return Promise.resolve();
}
