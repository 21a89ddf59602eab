import type { FastifyPluginCallback } from "fastify";
import { queryRoute, type Form } from "../forms.ts";
import type { Application } from "../../api/v1alpha1/index.ts";
import type { AccountAccess } from "../access.ts";
import { resolveSignedIn } from "../plugins/session.ts";

/** What the search box keeps: accounts by name, id or role, applications by name. */
export function searchAccess(
  access: { accounts: AccountAccess[]; applications: Application[] },
  query: string,
) {
  const q = query.toLowerCase();
  return {
    accounts: access.accounts.filter(
      (a) =>
        !q ||
        a.displayName.toLowerCase().includes(q) ||
        a.accountId.includes(q) ||
        a.roles.some((r) => r.name.toLowerCase().includes(q)),
    ),
    applications: access.applications.filter(
      (app) => !q || app.spec.displayName.toLowerCase().includes(q),
    ),
  };
}

/** The portal's home page: the accounts, roles and applications the user may open. */
export const accountRoutes: FastifyPluginCallback = (app, _options, done) => {
  const portal = app.portal;
  app.get("/", { schema: queryRoute(["q"]), preHandler: resolveSignedIn }, async (req, reply) => {
    const current = req.signedIn;
    if (!current) return reply.redirect("/login", 303);
    const { q = "" } = req.query as Form;
    const name = current.user.spec.displayName ?? current.user.spec.userName;
    const shown = searchAccess(
      {
        accounts: portal.accessOf(current.user),
        applications: portal.applicationsOf(current.user),
      },
      q,
    );
    return reply.page("portal", { user: { name, csrf: current.session.csrf }, query: q, ...shown });
  });
  done();
};
