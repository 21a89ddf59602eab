import type { FastifyPluginCallback } from "fastify";
import { queryRoute, type Form } from "../forms.ts";
import { portalPage } from "../html.ts";
import { resolveSignedIn } from "../plugins/session.ts";

/** The portal's home page: the accounts, roles and applications the user may open. */
export const accountRoutes: FastifyPluginCallback = (app, _options, done) => {
  const portal = app.portal;
  app.get("/", { schema: queryRoute(["q"]), preHandler: resolveSignedIn }, async (req, reply) => {
    const current = req.signedIn;
    if (!current) return reply.redirect("/login", 303);
    const { q = "" } = req.query as Form;
    const name = current.user.spec.displayName ?? current.user.spec.userName;
    return reply.type("text/html").send(
      portalPage(
        { name, csrf: current.session.csrf },
        {
          accounts: portal.accessOf(current.user),
          applications: portal.applicationsOf(current.user),
        },
        q,
      ),
    );
  });
  done();
};
