import { describe, expect, it } from "vitest";
import type { IdentityCenter } from "../../api/v1alpha1/index.ts";
import { MetadataFetchError } from "../../adapters/http/metadata-fetcher.ts";
import { syncUpstreamSaml } from "./upstream-saml.ts";

const METADATA = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.com"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>Q0VSVA==</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>`;
const URL = "https://idp.example.com/metadata";
const T0 = new Date("2026-12-01T10:00:00Z");
const later = (ms: number) => new Date(T0.getTime() + ms);

function instance(saml: { metadataUrl?: string; metadataXml?: string }): IdentityCenter {
  return {
    apiVersion: "identitycenter.dev/v1alpha1",
    kind: "IdentityCenter",
    metadata: { name: "default", generation: 1 },
    spec: {
      portal: {
        hostname: "sso.example.com",
        ingress: { enabled: true },
        replicas: 2,
        passwordHashConcurrency: 4,
      },
      signIn: { mfa: "required", duration: "PT8H", idleTimeout: "PT1H", lockoutThreshold: 5 },
      aws: { partition: "aws", signInUrl: "https://signin.aws.amazon.com/saml" },
      identitySource: {
        type: "saml",
        jitProvisioning: false,
        trustUpstreamMfa: true,
        saml: { ...saml, metadataRefreshInterval: "PT1H", mfaAuthnContexts: [], clockSkew: "PT2M" },
      },
    },
  };
}

/** The instance after the controller wrote the outcome to its status. */
function written(ic: IdentityCenter, outcome: Awaited<ReturnType<typeof syncUpstreamSaml>>) {
  return {
    ...ic,
    status: {
      ...(outcome.upstreamSaml ? { upstreamSaml: outcome.upstreamSaml } : {}),
      conditions: outcome.condition
        ? [{ ...outcome.condition, lastTransitionTime: T0.toISOString() }]
        : [],
    },
  };
}

describe("the upstream SAML IdP's metadata in status", () => {
  it("reads a metadataUrl once per refresh interval and then again", async () => {
    const fetched: string[] = [];
    const fetcher = (url: string) => {
      fetched.push(url);
      return Promise.resolve(METADATA);
    };
    const ic = instance({ metadataUrl: URL });
    const first = await syncUpstreamSaml(ic, fetcher, T0);
    expect(first.upstreamSaml).toMatchObject({
      entityId: "https://idp.example.com",
      ssoUrl: "https://idp.example.com/sso",
      source: URL,
      readAt: T0.toISOString(),
    });
    expect(first.condition).toMatchObject({ status: "True", reason: "MetadataRead" });
    expect(first.requeueAfterMs).toBe(3600_000);
    const soon = await syncUpstreamSaml(written(ic, first), fetcher, later(600_000));
    expect(fetched).toHaveLength(1);
    expect(soon.requeueAfterMs).toBe(3000_000);
    await syncUpstreamSaml(written(ic, first), fetcher, later(3600_000));
    expect(fetched).toHaveLength(2);
  });

  it("keeps the last good copy when a re-read fails, and says so", async () => {
    const ic = instance({ metadataUrl: URL });
    const good = await syncUpstreamSaml(ic, () => Promise.resolve(METADATA), T0);
    const failed = await syncUpstreamSaml(
      written(ic, good),
      () => Promise.reject(new MetadataFetchError("the metadata URL answered HTTP 503")),
      later(3600_000),
    );
    expect(failed.upstreamSaml).toEqual(good.upstreamSaml);
    expect(failed.condition).toMatchObject({ status: "False", reason: "MetadataUnreachable" });
    expect(failed.condition?.message).toContain("HTTP 503; still trusting the copy read at");
    expect(failed.requeueAfterMs).toBe(60_000);
  });

  it("reports invalid inline metadata and trusts nothing", async () => {
    const outcome = await syncUpstreamSaml(
      instance({ metadataXml: "<nope/>" }),
      () => Promise.reject(new Error("never fetched")),
      T0,
    );
    expect(outcome.upstreamSaml).toBeUndefined();
    expect(outcome.condition).toMatchObject({ status: "False", reason: "MetadataInvalid" });
    expect(outcome.condition?.message).toContain("nobody can sign in until it is fixed");
    expect(outcome.requeueAfterMs).toBeUndefined();
  });

  it("drops what it trusted when the metadata source changes and the new one fails", async () => {
    const ic = instance({ metadataXml: METADATA });
    const good = await syncUpstreamSaml(ic, () => Promise.reject(new Error("unused")), T0);
    expect(good.upstreamSaml?.source).toMatch(/^sha256:[0-9a-f]{64}$/);
    const moved = { ...written(ic, good), spec: instance({ metadataUrl: URL }).spec };
    const outcome = await syncUpstreamSaml(
      moved,
      () => Promise.reject(new MetadataFetchError("timeout")),
      later(1000),
    );
    expect(outcome.upstreamSaml).toBeUndefined();
  });
});
