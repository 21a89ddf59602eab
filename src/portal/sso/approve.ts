import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AUTHORIZATION_CODE_SECONDS, grantLifetimeMs, type SsoContext } from "./context.ts";
import { addApproval } from "./device-approvals.ts";
import { addGrant } from "./grants.ts";
import { redirectUriAllowed, registration } from "./oidc.ts";
import { newId, normalizeUserCode, open, seal } from "./tokens.ts";
import { formRoute, queryRoute } from "../forms.ts";

const AUTHORIZATION_FIELDS = [
  "response_type",
  "client_id",
  "redirect_uri",
  "state",
  "code_challenge",
  "code_challenge_method",
  "scopes",
] as const;
const deviceQuery = queryRoute(["ticket", "user_code"]);
const deviceForm = formRoute(["csrf", "user_code", "ticket", "action"]);
const authorizeQuery = queryRoute(AUTHORIZATION_FIELDS);
const authorizeForm = formRoute(["csrf", "action", ...AUTHORIZATION_FIELDS]);

type Form = Record<string, string | undefined>;

const httpError = (statusCode: number, message: string) =>
  Object.assign(new Error(message), { statusCode });

/** The parts of an authorization-code request, checked; any fault is a 400 page. */
function authorizationRequest(ctx: SsoContext, params: Form) {
  if (params.response_type !== "code")
    throw httpError(400, "This sign-in request is not valid: response_type must be code.");
  const client = registration(ctx, params.client_id ?? "");
  if (!client)
    throw httpError(400, "This sign-in request comes from an unknown or expired client.");
  const redirectUri = params.redirect_uri ?? "";
  if (!redirectUriAllowed(client.redirectUris, redirectUri))
    throw httpError(400, "This sign-in request names a redirect URI its client did not register.");
  if (params.code_challenge_method !== "S256" || !/^[\w-]{43}$/.test(params.code_challenge ?? ""))
    throw httpError(400, "This sign-in request needs a PKCE S256 code challenge.");
  const state = params.state ?? "";
  if (state.length > 1024) throw httpError(400, "The state of this sign-in request is too long.");
  return { client, redirectUri, challenge: params.code_challenge ?? "", state };
}

function redirectWith(reply: FastifyReply, redirectUri: string, params: Record<string, string>) {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) if (v) url.searchParams.set(k, v);
  return reply.redirect(url.toString(), 303);
}

/**
 * The browser side: where a signed-in user approves a device code (`/device`) or an
 * authorization-code request (`/authorize`, at the host root, where the AWS CLI builds it).
 * Approving is a CSRF-protected POST; following a link never grants anything by itself.
 */
export function approvalPages(ctx: SsoContext) {
  return (app: FastifyInstance) => {
    app.get(
      "/device",
      { schema: deviceQuery },
      async (req: FastifyRequest, reply: FastifyReply) => {
        const current = await ctx.currentUser(req, reply);
        if (!current) return ctx.signInFirst(req, reply);
        const user = { name: current.user.spec.userName, csrf: current.session.csrf };
        const query = req.query as Form;
        if (query.ticket !== undefined) {
          const ticket = open("ticket", query.ticket, ctx.tokenKey);
          if (!ticket || ticket.expiresAt <= ctx.now().getTime())
            return reply.page("device-code", {
              user,
              error:
                "This sign-in request has expired or is not valid. Start it again in your terminal.",
            });
          return reply.page("device-approval", {
            user,
            userCode: ticket.userCode,
            clientName: ticket.clientName,
            ticket: query.ticket,
          });
        }
        if (query.user_code !== undefined) {
          const userCode = normalizeUserCode(query.user_code);
          if (!userCode)
            return reply.page("device-code", { user, error: "That is not a valid code." });
          return reply.page("device-approval", {
            user,
            userCode,
            clientName: undefined,
            ticket: undefined,
          });
        }
        return reply.page("device-code", { user });
      },
    );

    app.post(
      "/device",
      { schema: deviceForm },
      async (req: FastifyRequest, reply: FastifyReply) => {
        const current = await ctx.currentUser(req, reply);
        if (!current) throw httpError(401, "Sign in first.");
        const form = req.body as Form;
        ctx.checkCsrf(current.session, form);
        const userCode = normalizeUserCode(form.user_code ?? "");
        if (!userCode) throw httpError(400, "That is not a valid code.");
        const now = ctx.now().getTime();
        let nonce: string | undefined;
        let expiresAt = now + 600_000;
        if (form.ticket) {
          const ticket = open("ticket", form.ticket, ctx.tokenKey);
          if (ticket?.userCode !== userCode || ticket.expiresAt <= now)
            throw httpError(
              400,
              "This sign-in request has expired. Start it again in your terminal.",
            );
          nonce = ticket.nonce;
          expiresAt = ticket.expiresAt;
        }
        const userName = current.user.spec.userName;
        const record = await ctx.credentials.get(userName);
        const allowed = form.action === "allow";
        await ctx.approvals.update((doc) =>
          addApproval(
            doc,
            userCode,
            {
              userName,
              epoch: record?.sessionEpoch ?? 0,
              expiresAt,
              ...(nonce ? { nonce } : {}),
              ...(allowed ? {} : { denied: true }),
            },
            now,
          ),
        );
        ctx.log.info(
          { audit: true, sso: "device", result: allowed ? "allowed" : "denied", user: userName },
          "SSO device authorization",
        );
        return reply.page("device-done", {
          user: { name: userName, csrf: current.session.csrf },
          allowed,
        });
      },
    );

    app.get(
      "/authorize",
      { schema: authorizeQuery },
      async (req: FastifyRequest, reply: FastifyReply) => {
        const params = req.query as Form;
        const request = authorizationRequest(ctx, params);
        const current = await ctx.currentUser(req, reply);
        if (!current) return ctx.signInFirst(req, reply);
        // The consent form's answer is a redirect to the client's loopback port: the page's CSP
        // (form-action) must allow that origin.
        reply.formActionTarget = request.redirectUri;
        const fields: Record<string, string> = {};
        for (const k of AUTHORIZATION_FIELDS) if (params[k] !== undefined) fields[k] = params[k];
        return reply.page("authorize", {
          user: { name: current.user.spec.userName, csrf: current.session.csrf },
          clientName: request.client.name,
          redirectHost: new URL(request.redirectUri).host,
          fields,
        });
      },
    );

    app.post(
      "/authorize",
      { schema: authorizeForm },
      async (req: FastifyRequest, reply: FastifyReply) => {
        const current = await ctx.currentUser(req, reply);
        if (!current) throw httpError(401, "Sign in first.");
        const form = req.body as Form;
        ctx.checkCsrf(current.session, form);
        const request = authorizationRequest(ctx, form);
        const userName = current.user.spec.userName;
        if (form.action !== "allow") {
          ctx.log.info({ audit: true, sso: "authorize", result: "denied", user: userName }, "SSO");
          return redirectWith(reply, request.redirectUri, {
            error: "access_denied",
            state: request.state,
          });
        }
        const now = ctx.now().getTime();
        const grantId = newId();
        await ctx.credentials.update(userName, (r) =>
          addGrant(
            r,
            {
              id: grantId,
              clientId: request.client.id,
              clientName: request.client.name,
              createdAt: now,
              expiresAt: now + grantLifetimeMs(ctx),
            },
            now,
          ),
        );
        const code = seal(
          "code",
          {
            clientId: request.client.id,
            userName,
            grantId,
            redirectUri: request.redirectUri,
            challenge: request.challenge,
            expiresAt: now + AUTHORIZATION_CODE_SECONDS * 1000,
          },
          ctx.tokenKey,
        );
        ctx.log.info({ audit: true, sso: "authorize", result: "allowed", user: userName }, "SSO");
        return redirectWith(reply, request.redirectUri, { code, state: request.state });
      },
    );
    return Promise.resolve();
  };
}
