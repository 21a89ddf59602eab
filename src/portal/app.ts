import { randomBytes, type KeyObject } from "node:crypto";
import formbody from "@fastify/formbody";
import { AssumeRoleWithSAMLCommand, STSClient } from "@aws-sdk/client-sts";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { Application, IdentityCenter, User } from "../api/v1alpha1/index.ts";
import type { createStores } from "../adapters/k8s/stores.ts";
import { portalUrl } from "../plan/naming.ts";
import { isValidUser } from "../identity/directory.ts";
import { PortalMetrics } from "../observability/metrics.ts";
import { isoDurationSeconds } from "../plan/naming.ts";
import { AWS_AUDIENCE, awsSignInAttributes } from "../saml/aws-sign-in.ts";
import { idpEndpoints, idpMetadataXml } from "../saml/metadata.ts";
import { buildResponseDocument, buildSignedResponse, newId } from "../saml/response.ts";
import {
  AuthnRequestError,
  decodeSamlRequest,
  encodeRedirectSamlRequest,
  parseAuthnRequest,
  type AuthnRequest,
} from "../saml/authn-request.ts";
import { signInDocument } from "../saml/sign.ts";
import { serialize } from "../saml/xml-builder.ts";
import { accessibleAccounts, findRole, type RoleAccess } from "./access.ts";
import {
  accessibleApplications,
  ApplicationSignInError,
  applicationResponseInput,
  userValue,
} from "./applications.ts";
import {
  isLocked,
  recordFailure,
  recordSuccess,
  setupTokenValid,
  type CredentialRecord,
} from "../identity/credentials.ts";
import {
  applicationPage,
  autoPostPage,
  credentialsPage,
  errorPage,
  loginPage,
  otpPage,
  portalPage,
  setupPage,
} from "./html.ts";
import { hashPassword, passwordProblem, verifyPassword } from "./password.ts";
import { openSession, sealSession, sessionValid, type Session } from "./session-cookie.ts";
import { newTotpSecret, otpauthUri, verifyTotp } from "./totp.ts";

export interface CredentialBackend {
  get(userName: string): Promise<CredentialRecord | undefined>;
  update(
    userName: string,
    change: (current: CredentialRecord) => CredentialRecord,
  ): Promise<CredentialRecord>;
}

export interface PortalDeps {
  stores: ReturnType<typeof createStores>;
  instanceName: string;
  credentials: CredentialBackend;
  sessionKey: Buffer;
  signing: { privateKey: KeyObject; certificatePem: string; certificateBase64: string };
  /** STS endpoint for CLI credentials when the IdentityCenter does not set one. */
  stsEndpoint: string | undefined;
  region: string;
  metrics?: PortalMetrics;
  log: Logger;
  now?: () => Date;
}

type Form = Record<string, string | undefined>;
const BAD_LOGIN = "The user name or password is incorrect.";

/** Where to go after signing in: only a pending SP-initiated sign-in, never another site. */
function safeReturnTo(value: string | undefined): string | undefined {
  return value?.startsWith("/saml/sso?") ? value : undefined;
}

/** The access portal and SAML IdP as a Fastify app; `idc portal` makes it listen. */
export function buildPortalApp(deps: PortalDeps) {
  const now = deps.now ?? (() => new Date());
  const app = Fastify({ loggerInstance: deps.log, trustProxy: true, bodyLimit: 64 * 1024 });
  void app.register(formbody);
  const s = deps.stores;
  const metrics = deps.metrics ?? new PortalMetrics();
  /** One audit line and one count per sign-in step, never with the password or the code. */
  const audit = (req: FastifyRequest, step: string, result: string, userName: string) => {
    metrics.signIns.inc({ step, result });
    deps.log.info({ audit: true, step, result, user: userName, ip: req.ip }, "sign-in");
  };
  app.addHook("onResponse", async (req, reply) => {
    metrics.requests.observe(
      {
        route: req.routeOptions.url ?? "unmatched",
        method: req.method,
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  const instance = (): IdentityCenter => {
    const ic = s.identityCenters.informer.get(deps.instanceName);
    if (!ic)
      throw Object.assign(new Error("the IdentityCenter is not available"), { statusCode: 503 });
    return ic;
  };
  const secure = () => portalUrl(instance()).startsWith("https://");
  const cookieName = () => (secure() ? "__Host-idc_session" : "idc_session");

  app.addHook("onSend", async (req, reply) => {
    const { nonce = "", postTo } = req as FastifyRequest & { nonce?: string; postTo?: string };
    const target = postTo ?? instance().spec.aws.signInUrl;
    const signIn = URL.canParse(target) ? new URL(target).origin : "";
    reply.header(
      "content-security-policy",
      `default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; script-src 'nonce-${nonce}'; form-action 'self' ${signIn}; frame-ancestors 'none'; base-uri 'none'`,
    );
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
    reply.header("x-frame-options", "DENY");
    reply.header("cache-control", "no-store");
  });

  app.setErrorHandler(async (err: { statusCode?: number; message: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) deps.log.error({ err: err.message }, "portal error");
    return reply
      .code(status)
      .type("text/html")
      .send(errorPage(status, status >= 500 ? "Something went wrong." : err.message));
  });

  function readSession(req: FastifyRequest): Session | undefined {
    const cookie = req.headers.cookie?.split(/;\s*/).find((c) => c.startsWith(`${cookieName()}=`));
    return cookie ? openSession(cookie.slice(cookieName().length + 1), deps.sessionKey) : undefined;
  }
  function writeSession(reply: FastifyReply, session: Session | undefined): void {
    const attrs = `Path=/; HttpOnly; SameSite=Lax${secure() ? "; Secure" : ""}`;
    reply.header(
      "set-cookie",
      session
        ? `${cookieName()}=${sealSession(session, deps.sessionKey)}; ${attrs}`
        : `${cookieName()}=; Max-Age=0; ${attrs}`,
    );
  }
  /** A session for someone not signed in yet: it carries the CSRF token of the login form. */
  function anonymousSession(existing: Session | undefined): Session {
    if (existing && existing.userName === "") return existing;
    const t = now().getTime();
    return {
      userName: "",
      epoch: 0,
      issuedAt: t,
      lastSeen: t,
      csrf: randomBytes(18).toString("base64url"),
    };
  }
  function anonymous(reply: FastifyReply, existing: Session | undefined): Session {
    const session = anonymousSession(existing);
    if (session !== existing) writeSession(reply, session);
    return session;
  }
  function checkCsrf(session: Session | undefined, form: Form): void {
    if (!session || !form.csrf || form.csrf !== session.csrf)
      throw Object.assign(
        new Error("The form expired or was not sent by this portal. Go back and try again."),
        { statusCode: 403 },
      );
  }
  function policy() {
    const signIn = instance().spec.signIn;
    return {
      absoluteMs: isoDurationSeconds(signIn.duration) * 1000,
      idleMs: isoDurationSeconds(signIn.idleTimeout) * 1000,
    };
  }
  /** The user behind the request, if the session is valid and the user may still sign in. */
  async function currentUser(req: FastifyRequest, reply: FastifyReply) {
    const session = readSession(req);
    if (!session || session.userName === "" || session.pendingMfa) return undefined;
    const userObject = s.directory.validUserFor(session.userName);
    const user = userObject === undefined ? undefined : s.users.informer.get(userObject);
    if (!user || !user.spec.active || !isValidUser(user, s.directory)) return undefined;
    const record = await deps.credentials.get(session.userName);
    const t = now().getTime();
    if (!record || !sessionValid(session, policy(), record.sessionEpoch, t)) return undefined;
    const refreshed = { ...session, lastSeen: t };
    writeSession(reply, refreshed);
    return { user, session: refreshed };
  }
  function groupsOf(user: User) {
    return [...s.directory.groupsWithMember(user.spec.userName)]
      .map((g) => s.groups.informer.get(g))
      .filter((g) => g !== undefined);
  }
  function accessOf(user: User) {
    return accessibleAccounts({
      user,
      groups: groupsOf(user),
      assignments: s.assignments.informer.list(),
      accounts: s.accounts.informer.list(),
      permissionSets: s.permissionSets.informer.list(),
    });
  }
  function signedAwsResponse(user: User, role: RoleAccess, uid: string) {
    const ic = instance();
    const endpoints = idpEndpoints(portalUrl(ic));
    const tags: Record<string, string> = {};
    for (const attr of ic.spec.accessControlAttributes ?? []) {
      const value = userValue(user, attr.source);
      if (value) tags[attr.key] = value;
    }
    const { xml } = buildSignedResponse(
      {
        issuer: endpoints.entityId,
        destination: ic.spec.aws.signInUrl,
        audience: AWS_AUDIENCE,
        nameId: uid,
        nameIdFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        now: now(),
        attributes: awsSignInAttributes({
          roleArn: role.roleArn,
          samlProviderArn: role.samlProviderArn,
          roleSessionName: user.spec.userName,
          sessionDurationSeconds: isoDurationSeconds(role.sessionDuration),
          principalTags: tags,
        }),
      },
      deps.signing,
    );
    return Buffer.from(xml).toString("base64");
  }

  app.get("/healthz", () => "ok\n");
  // Ready only while the IdentityCenter it serves is known: without it no page can be built.
  app.get("/readyz", (_req, reply) => {
    instance();
    return reply.type("text/plain").send("ok\n");
  });
  app.get("/saml/metadata", async (_req, reply) =>
    reply
      .type("application/samlmetadata+xml")
      .send(idpMetadataXml(idpEndpoints(portalUrl(instance())), deps.signing.certificatePem)),
  );

  app.get("/login", async (req, reply) =>
    reply.type("text/html").send(loginPage(undefined, anonymous(reply, readSession(req)).csrf)),
  );

  app.post("/login", async (req, reply) => {
    const form = req.body as Form;
    const session = readSession(req);
    checkCsrf(session, form);
    const userName = (form.username ?? "").trim();
    const password = form.password ?? "";
    const fail = (message = BAD_LOGIN) =>
      reply.code(401).type("text/html").send(loginPage(message, session?.csrf));
    const userObject = s.directory.validUserFor(userName);
    const user = userObject === undefined ? undefined : s.users.informer.get(userObject);
    const record = user ? await deps.credentials.get(userName) : undefined;
    const t = now().getTime();
    if (record && isLocked(record, t)) {
      audit(req, "password", "locked", userName);
      return fail("Too many failed sign-ins. Try again later.");
    }
    // Unknown, duplicate and inactive users get the same answer as a wrong password.
    const ok =
      !!user &&
      user.spec.active &&
      isValidUser(user, s.directory) &&
      !!record?.passwordHash &&
      (await verifyPassword(password, record.passwordHash));
    if (!ok) {
      audit(req, "password", "rejected", userName);
      if (user && record)
        await deps.credentials.update(userName, (r) =>
          recordFailure(r, t, instance().spec.signIn.lockoutThreshold),
        );
      return fail();
    }
    const mfa = instance().spec.signIn.mfa;
    if (mfa === "required" && !record.totpSecret) {
      audit(req, "password", "no_authenticator", userName);
      return fail("Your account needs an authenticator. Ask an administrator for a setup link.");
    }
    const pendingMfa = mfa !== "disabled" && !!record.totpSecret;
    audit(req, "password", pendingMfa ? "accepted" : "signed_in", userName);
    if (!pendingMfa) await deps.credentials.update(userName, recordSuccess);
    const returnTo = safeReturnTo(session?.returnTo);
    writeSession(reply, {
      userName,
      epoch: record.sessionEpoch,
      issuedAt: t,
      lastSeen: t,
      csrf: randomBytes(18).toString("base64url"),
      ...(pendingMfa ? { pendingMfa: true, ...(returnTo ? { returnTo } : {}) } : {}),
    });
    return reply.redirect(pendingMfa ? "/login/otp" : (returnTo ?? "/"), 303);
  });

  app.get("/login/otp", async (req, reply) => {
    const session = readSession(req);
    if (!session?.pendingMfa) return reply.redirect("/login", 303);
    return reply.type("text/html").send(otpPage(session.csrf));
  });

  app.post("/login/otp", async (req, reply) => {
    const form = req.body as Form;
    const session = readSession(req);
    checkCsrf(session, form);
    if (!session?.pendingMfa) return reply.redirect("/login", 303);
    const t = now().getTime();
    const record = await deps.credentials.get(session.userName);
    if (!record?.totpSecret || isLocked(record, t)) {
      audit(req, "otp", "locked", session.userName);
      return reply
        .code(401)
        .type("text/html")
        .send(otpPage(session.csrf, "Too many failed sign-ins. Try again later."));
    }
    const step = verifyTotp(record.totpSecret, form.otp ?? "", now(), record.totpLastStep);
    if (step === undefined) {
      audit(req, "otp", "rejected", session.userName);
      await deps.credentials.update(session.userName, (r) =>
        recordFailure(r, t, instance().spec.signIn.lockoutThreshold),
      );
      return reply
        .code(401)
        .type("text/html")
        .send(otpPage(session.csrf, "That code is not right."));
    }
    await deps.credentials.update(session.userName, (r) => ({
      ...recordSuccess(r),
      totpLastStep: step,
    }));
    audit(req, "otp", "signed_in", session.userName);
    writeSession(reply, {
      userName: session.userName,
      epoch: record.sessionEpoch,
      issuedAt: t,
      lastSeen: t,
      csrf: randomBytes(18).toString("base64url"),
    });
    return reply.redirect(safeReturnTo(session.returnTo) ?? "/", 303);
  });

  const setupLinkGone = (reply: FastifyReply) =>
    reply
      .code(410)
      .type("text/html")
      .send(
        errorPage(
          410,
          "This setup link has expired or was already used. Ask an administrator for a new one.",
        ),
      );

  app.get("/setup", async (req, reply) => {
    const { user: userName = "", token = "" } = req.query as Form;
    const record = userName ? await deps.credentials.get(userName) : undefined;
    if (!record || !setupTokenValid(record, token, now().getTime())) {
      return setupLinkGone(reply);
    }
    const t = now().getTime();
    const session: Session = {
      userName: "",
      epoch: 0,
      issuedAt: t,
      lastSeen: t,
      csrf: randomBytes(18).toString("base64url"),
    };
    const mfa = instance().spec.signIn.mfa !== "disabled";
    const totpSecret = mfa ? newTotpSecret() : undefined;
    // The pending secret travels in the encrypted session, never in the page's form.
    writeSession(reply, {
      ...session,
      ...(totpSecret ? { pendingTotp: totpSecret } : {}),
    });
    return reply.type("text/html").send(
      setupPage({
        token,
        csrf: session.csrf,
        userName,
        ...(totpSecret
          ? {
              totpSecret,
              otpauthUri: otpauthUri(
                `AWS access portal (${idpEndpoints(portalUrl(instance())).portalUrl})`,
                userName,
                totpSecret,
              ),
            }
          : {}),
      }),
    );
  });

  app.post("/setup", async (req, reply) => {
    const form = req.body as Form;
    const session = readSession(req);
    checkCsrf(session, form);
    const userName = form.user ?? "";
    const token = form.token ?? "";
    const record = userName ? await deps.credentials.get(userName) : undefined;
    if (!record || !setupTokenValid(record, token, now().getTime())) {
      return setupLinkGone(reply);
    }
    const password = form.password ?? "";
    const problem = passwordProblem(password);
    const pendingTotp = session?.pendingTotp;
    const again = (error: string) =>
      reply
        .code(400)
        .type("text/html")
        .send(
          setupPage({
            token,
            csrf: session?.csrf ?? "",
            userName,
            error,
            ...(pendingTotp
              ? {
                  totpSecret: pendingTotp,
                  otpauthUri: otpauthUri("AWS access portal", userName, pendingTotp),
                }
              : {}),
          }),
        );
    if (problem) return again(`Password: ${problem}.`);
    let step: number | undefined;
    if (pendingTotp) {
      step = verifyTotp(pendingTotp, form.otp ?? "", now(), undefined);
      if (step === undefined)
        return again("That code is not right; check the time on your device.");
    }
    const passwordHash = await hashPassword(password);
    await deps.credentials.update(userName, (r) => {
      const next: CredentialRecord = { ...recordSuccess(r), passwordHash };
      delete next.setup; // single use
      if (pendingTotp) {
        next.totpSecret = pendingTotp;
        if (step !== undefined) next.totpLastStep = step;
      }
      return next;
    });
    audit(req, "setup", pendingTotp ? "password_and_authenticator" : "password", userName);
    writeSession(reply, undefined);
    return reply.redirect("/login", 303);
  });

  app.get("/", async (req, reply) => {
    const current = await currentUser(req, reply);
    if (!current) return reply.redirect("/login", 303);
    const { q = "" } = req.query as Form;
    const name = current.user.spec.displayName ?? current.user.spec.userName;
    return reply
      .type("text/html")
      .send(
        portalPage(
          { name, csrf: current.session.csrf },
          { accounts: accessOf(current.user), applications: applicationsOf(current.user) },
          q,
        ),
      );
  });

  function applicationsOf(user: User) {
    return accessibleApplications({
      user,
      groups: groupsOf(user),
      applications: s.applications.informer.list(),
      assignments: s.applicationAssignments.informer.list(),
    });
  }

  /** The application named in the URL, if the signed-in user is assigned to it. */
  async function authorizedApplication(req: FastifyRequest, reply: FastifyReply) {
    const current = await currentUser(req, reply);
    if (!current) return undefined;
    const { name } = req.params as { name: string };
    const application = applicationsOf(current.user).find((a) => a.metadata.name === name);
    if (!application)
      throw Object.assign(new Error("You are not assigned that application."), {
        statusCode: 403,
      });
    return { ...current, application };
  }

  // The application's sign-in URL (status.signInUrl): a page with one button, so that following
  // a link never signs anyone in by itself.
  app.get("/applications/:name", async (req, reply) => {
    const found = await authorizedApplication(req, reply);
    if (!found) return reply.redirect("/login", 303);
    const { user, session, application } = found;
    return reply
      .type("text/html")
      .send(
        applicationPage(
          { name: user.spec.displayName ?? user.spec.userName, csrf: session.csrf },
          application,
        ),
      );
  });

  // IdP-initiated sign-in: a signed Response posted to the application's ACS URL.
  app.post("/applications/:name", async (req, reply) => {
    const found = await authorizedApplication(req, reply);
    if (!found) throw Object.assign(new Error("Sign in first."), { statusCode: 401 });
    const { user, session, application } = found;
    checkCsrf(session, req.body as Form);
    return postToApplication(req, reply, { user, application });
  });

  /** An auto-posting page with a signed Response for the application's ACS URL. */
  function postToApplication(
    req: FastifyRequest,
    reply: FastifyReply,
    target: { user: User; application: Application; inResponseTo?: string; relayState?: string },
  ) {
    const { user, application } = target;
    let input;
    try {
      input = applicationResponseInput(application, user, {
        issuer: idpEndpoints(portalUrl(instance())).entityId,
        now: now(),
        transientId: newId(),
      });
    } catch (err) {
      if (err instanceof ApplicationSignInError) throw Object.assign(err, { statusCode: 409 });
      throw err;
    }
    const { doc } = buildResponseDocument({
      ...input,
      ...(target.inResponseTo ? { inResponseTo: target.inResponseTo } : {}),
    });
    if (application.spec.signing.assertion) signInDocument(doc, deps.signing, "Assertion");
    // Signed last, so the Response's signature also covers the Assertion's.
    if (application.spec.signing.response) signInDocument(doc, deps.signing, "Response");
    const xml = serialize(doc);
    metrics.samlResponses.inc({ target: "application" });
    const nonce = randomBytes(16).toString("base64");
    Object.assign(req, { nonce, postTo: application.spec.acsUrl });
    const fields: Record<string, string> = { SAMLResponse: Buffer.from(xml).toString("base64") };
    const relayState = target.relayState ?? application.spec.relayState;
    if (relayState) fields.RelayState = relayState;
    deps.log.info(
      {
        user: user.spec.userName,
        application: application.metadata.name,
        spInitiated: !!target.inResponseTo,
      },
      "application sign-in",
    );
    return reply
      .type("text/html")
      .send(autoPostPage(application.spec.acsUrl, fields, nonce, application.spec.displayName));
  }

  const badRequest = (message: string) => Object.assign(new Error(message), { statusCode: 400 });

  /** The AuthnRequest and the Application it comes from; anything else is a 400 page. */
  function applicationRequest(samlRequest: string) {
    let request: AuthnRequest;
    try {
      request = parseAuthnRequest(decodeSamlRequest(samlRequest, "redirect"));
    } catch (err) {
      if (err instanceof AuthnRequestError) throw badRequest(`Bad SAML request: ${err.message}.`);
      throw err;
    }
    const application = s.applications.informer
      .list()
      .find((a) => a.spec.entityId === request.issuer && !a.metadata.deletionTimestamp);
    if (!application)
      throw badRequest(`The service provider ${request.issuer} is not an application here.`);
    // The Response goes only to the ACS URL the Application registers, whatever the request says.
    if (request.acsUrl && request.acsUrl !== application.spec.acsUrl)
      throw badRequest(
        `The service provider asked for the response at ${request.acsUrl}, which is not the ACS URL registered for ${application.spec.displayName}.`,
      );
    return { request, application };
  }

  // SP-initiated sign-in, HTTP-Redirect binding. Someone not signed in comes back here after
  // signing in (the request's URL waits in the encrypted session cookie).
  app.get("/saml/sso", async (req, reply) => {
    const query = req.query as Form;
    const { request, application } = applicationRequest(query.SAMLRequest ?? "");
    const current = await currentUser(req, reply);
    if (!current) {
      writeSession(reply, { ...anonymousSession(readSession(req)), returnTo: req.url });
      return reply.redirect("/login", 303);
    }
    if (!applicationsOf(current.user).some((a) => a.metadata.name === application.metadata.name))
      throw Object.assign(new Error(`You are not assigned ${application.spec.displayName}.`), {
        statusCode: 403,
      });
    return postToApplication(req, reply, {
      user: current.user,
      application,
      inResponseTo: request.id,
      ...(query.RelayState ? { relayState: query.RelayState } : {}),
    });
  });

  // HTTP-POST binding: a cross-site POST carries no SameSite=Lax session cookie, so the request
  // is turned into the Redirect binding's GET, which does.
  app.post("/saml/sso", async (req, reply) => {
    const form = req.body as Form;
    let xml: string;
    try {
      xml = decodeSamlRequest(form.SAMLRequest ?? "", "post");
      parseAuthnRequest(xml);
    } catch (err) {
      if (err instanceof AuthnRequestError) throw badRequest(`Bad SAML request: ${err.message}.`);
      throw err;
    }
    const query = new URLSearchParams({ SAMLRequest: encodeRedirectSamlRequest(xml) });
    if (form.RelayState) query.set("RelayState", form.RelayState);
    return reply.redirect(`/saml/sso?${query.toString()}`, 303);
  });

  async function authorizedRole(req: FastifyRequest, reply: FastifyReply) {
    const current = await currentUser(req, reply);
    if (!current) throw Object.assign(new Error("Sign in first."), { statusCode: 401 });
    const form = req.body as Form;
    checkCsrf(current.session, form);
    const role = findRole(accessOf(current.user), form.account ?? "", form.permissionSet ?? "");
    if (!role)
      throw Object.assign(new Error("You are not assigned that role in that account."), {
        statusCode: 403,
      });
    return { ...current, role };
  }

  app.post("/aws/console", async (req, reply) => {
    const { user, role } = await authorizedRole(req, reply);
    const nonce = randomBytes(16).toString("base64");
    (req as FastifyRequest & { nonce?: string }).nonce = nonce;
    const fields: Record<string, string> = {
      SAMLResponse: signedAwsResponse(user, role, user.metadata.uid ?? user.metadata.name),
    };
    metrics.samlResponses.inc({ target: "aws_console" });
    if (role.relayState) fields.RelayState = role.relayState;
    return reply.type("text/html").send(autoPostPage(instance().spec.aws.signInUrl, fields, nonce));
  });

  app.post("/aws/credentials", async (req, reply) => {
    const { user, session, role } = await authorizedRole(req, reply);
    const endpoint = instance().spec.aws.stsEndpoint ?? deps.stsEndpoint;
    const sts = new STSClient({
      region: deps.region,
      ...(endpoint ? { endpoint } : {}),
      credentials: { accessKeyId: "unused", secretAccessKey: "unused" },
    });
    const out = await sts.send(
      new AssumeRoleWithSAMLCommand({
        RoleArn: role.roleArn,
        PrincipalArn: role.samlProviderArn,
        SAMLAssertion: signedAwsResponse(user, role, user.metadata.uid ?? user.metadata.name),
      }),
    );
    metrics.samlResponses.inc({ target: "aws_credentials" });
    const c = out.Credentials;
    const creds = {
      accessKeyId: c?.AccessKeyId ?? "",
      secretAccessKey: c?.SecretAccessKey ?? "",
      sessionToken: c?.SessionToken ?? "",
      expiration: c?.Expiration?.toISOString() ?? "",
    };
    if ((req.headers.accept ?? "").includes("application/json")) return reply.send(creds);
    const account = s.accounts.informer.get((req.body as Form).account ?? "");
    return reply
      .type("text/html")
      .send(
        credentialsPage(
          { name: user.spec.userName, csrf: session.csrf },
          creds,
          `${account?.spec.accountId ?? "account"}_${role.name}`,
        ),
      );
  });

  app.post("/logout", async (req, reply) => {
    checkCsrf(readSession(req), req.body as Form);
    writeSession(reply, undefined);
    return reply.redirect("/login", 303);
  });

  return app;
}
