import type { IdentityCenter } from "../../api/v1alpha1/index.ts";

export { completeUpstreamSignIn, refuseUpstream } from "./complete.ts";

/** Where each upstream protocol's sign-in starts (its route plugin serves the path). */
export const UPSTREAM_START_PATHS = {
  oidc: "/upstream/oidc/start",
  saml: "/upstream/saml/start",
} as const;

function hostOf(url: string | undefined): string | undefined {
  try {
    return url ? new URL(url).host : undefined;
  } catch {
    return undefined;
  }
}

/**
 * How users of this instance sign in when it has an upstream identity provider: the button's
 * label and where it leads; undefined for the internal directory (password sign-in).
 */
export function upstreamSignIn(
  ic: IdentityCenter,
): { displayName: string; startPath: string } | undefined {
  const source = ic.spec.identitySource;
  if (source.type === "internal") return undefined;
  const fallback =
    source.type === "oidc" ? hostOf(source.oidc?.issuerUrl) : hostOf(source.saml?.metadataUrl);
  return {
    displayName: source.displayName ?? fallback ?? "your identity provider",
    startPath: UPSTREAM_START_PATHS[source.type],
  };
}
