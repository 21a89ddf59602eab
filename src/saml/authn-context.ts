import type { RequestedAuthnContext } from "./authn-request.ts";

/** SAML 2.0 authentication context classes (saml-authn-context-2.0-os) and the REFEDS MFA profile. */
export const AUTHN_CONTEXT = {
  unspecified: "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified",
  password: "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
  passwordProtectedTransport: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
  timeSyncToken: "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
  multiFactor: "https://refeds.org/profile/mfa",
} as const;

/** How a user signed in, weakest first. */
export type SignInMethod =
  "password" | "password+totp" | "upstream" | "upstream+mfa" | "upstream+totp";

const LEVEL: Record<SignInMethod, number> = {
  password: 1,
  "password+totp": 2,
  // One factor at the upstream (it did not report more): reported like a password over TLS.
  upstream: 1,
  "upstream+mfa": 2,
  "upstream+totp": 2,
};

/** The strength of each class the portal can truthfully report; others it never asserts. */
const STRENGTH: ReadonlyMap<string, number> = new Map([
  [AUTHN_CONTEXT.unspecified, 0],
  [AUTHN_CONTEXT.password, 1],
  [AUTHN_CONTEXT.passwordProtectedTransport, 1],
  [AUTHN_CONTEXT.timeSyncToken, 2],
  [AUTHN_CONTEXT.multiFactor, 2],
]);

/** What the portal says when nobody asks: a password over TLS, or that plus a TOTP code. */
const DEFAULT_CLASS: Record<SignInMethod, string> = {
  password: AUTHN_CONTEXT.passwordProtectedTransport,
  "password+totp": AUTHN_CONTEXT.multiFactor,
  upstream: AUTHN_CONTEXT.passwordProtectedTransport,
  "upstream+mfa": AUTHN_CONTEXT.multiFactor,
  "upstream+totp": AUTHN_CONTEXT.multiFactor,
};

/**
 * The AuthnContextClassRef to assert for a sign-in, honouring the SP's RequestedAuthnContext
 * (SAML core 3.3.2.2.1), or undefined when the sign-in cannot satisfy it (NoAuthnContext).
 * A class is satisfied when the sign-in was at least that strong: a password-and-TOTP sign-in
 * also used a password over TLS, so an exact request for PasswordProtectedTransport is met.
 */
export function chooseAuthnContext(
  method: SignInMethod,
  requested: RequestedAuthnContext | undefined,
): string | undefined {
  const level = LEVEL[method];
  if (!requested) return DEFAULT_CLASS[method];
  const known = requested.classRefs
    .map((ref) => ({ ref, strength: STRENGTH.get(ref) }))
    .filter((c): c is { ref: string; strength: number } => c.strength !== undefined);
  const strongest = Math.max(...known.map((c) => c.strength));
  switch (requested.comparison) {
    case "exact":
      return known.find((c) => c.strength <= level)?.ref;
    case "minimum":
      return known.some((c) => c.strength <= level) ? DEFAULT_CLASS[method] : undefined;
    case "better":
      // Stronger than every requested class, known or not: an unknown class cannot be beaten.
      return known.length === requested.classRefs.length && level > strongest
        ? DEFAULT_CLASS[method]
        : undefined;
    case "maximum": {
      if (known.length === 0) return undefined;
      if (strongest >= level) return DEFAULT_CLASS[method];
      return known.filter((c) => c.strength === strongest)[0]?.ref;
    }
  }
}
