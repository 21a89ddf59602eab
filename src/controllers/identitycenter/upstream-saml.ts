import { createHash } from "node:crypto";
import type { IdentityCenter, IdentityCenterStatus } from "../../api/v1alpha1/index.ts";
import { isoDurationSeconds } from "../../plan/naming.ts";
import type { ConditionInput } from "../../runtime/conditions.ts";
import { MetadataError, parseUpstreamMetadata } from "../../saml/upstream-metadata.ts";
import type { MetadataFetcher } from "../../adapters/http/metadata-fetcher.ts";

export const IDENTITY_SOURCE_CONDITION = "IdentitySourceReady";
type UpstreamSamlStatus = NonNullable<IdentityCenterStatus["upstreamSaml"]>;

/** A failed read is tried again this soon (or at the refresh interval, if that is sooner). */
const RETRY_MS = 60_000;

export interface UpstreamSamlOutcome {
  /** What the portal trusts; undefined when the instance has no SAML identity source. */
  upstreamSaml: UpstreamSamlStatus | undefined;
  /** The IdentitySourceReady condition to set; undefined: leave it as it is (or remove it). */
  condition: ConditionInput | undefined;
  requeueAfterMs: number | undefined;
}

const sourceOf = (saml: { metadataUrl?: string; metadataXml?: string }) =>
  saml.metadataUrl ??
  `sha256:${createHash("sha256")
    .update(saml.metadataXml ?? "")
    .digest("hex")}`;

/**
 * The upstream IdP's metadata as status.upstreamSaml, read from spec (metadataXml) or from
 * metadataUrl once per metadataRefreshInterval. A failed read keeps the last good copy of the
 * same source, so a flaky metadata endpoint does not stop sign-in, and says so in the
 * IdentitySourceReady condition.
 */
export async function syncUpstreamSaml(
  ic: IdentityCenter,
  fetchMetadata: MetadataFetcher,
  now: Date,
): Promise<UpstreamSamlOutcome> {
  const saml = ic.spec.identitySource.type === "saml" ? ic.spec.identitySource.saml : undefined;
  if (!saml) return { upstreamSaml: undefined, condition: undefined, requeueAfterMs: undefined };
  const source = sourceOf(saml);
  const intervalMs = isoDurationSeconds(saml.metadataRefreshInterval) * 1000;
  const previous = ic.status?.upstreamSaml?.source === source ? ic.status.upstreamSaml : undefined;
  const previousCondition = ic.status?.conditions?.find(
    (c) => c.type === IDENTITY_SOURCE_CONDITION,
  );
  if (previous && previousCondition?.status === "True") {
    // Inline metadata is read once per change; a URL once per interval.
    if (!saml.metadataUrl)
      return { upstreamSaml: previous, condition: previousCondition, requeueAfterMs: undefined };
    const dueIn = Date.parse(previous.readAt) + intervalMs - now.getTime();
    if (dueIn > 0)
      return { upstreamSaml: previous, condition: previousCondition, requeueAfterMs: dueIn };
  }
  try {
    const xml = saml.metadataUrl ? await fetchMetadata(saml.metadataUrl) : (saml.metadataXml ?? "");
    const idp = parseUpstreamMetadata(xml);
    return {
      upstreamSaml: { ...idp, source, readAt: now.toISOString() },
      condition: {
        type: IDENTITY_SOURCE_CONDITION,
        status: "True",
        reason: "MetadataRead",
        message: `trusting ${String(idp.signingCertificates.length)} signing certificate(s) of ${idp.entityId}`,
      },
      requeueAfterMs: saml.metadataUrl ? intervalMs : undefined,
    };
  } catch (err) {
    const invalid = err instanceof MetadataError;
    const what = saml.metadataUrl ? `the metadata at ${saml.metadataUrl}` : "metadataXml";
    const kept = previous
      ? `; still trusting the copy read at ${previous.readAt}`
      : "; nobody can sign in until it is fixed";
    return {
      upstreamSaml: previous,
      condition: {
        type: IDENTITY_SOURCE_CONDITION,
        status: "False",
        reason: invalid ? "MetadataInvalid" : "MetadataUnreachable",
        message: `${what}: ${err instanceof Error ? err.message : String(err)}${kept}`,
      },
      requeueAfterMs: saml.metadataUrl ? Math.min(intervalMs, RETRY_MS) : undefined,
    };
  }
}
