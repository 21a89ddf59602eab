import { createPrivateKey } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import type { Application } from "../api/v1alpha1/index.ts";
import { readKeyMaterial } from "../adapters/k8s/application-signing-secrets.ts";
import { applicationSigningSecretName } from "../plan/naming.ts";
import { certificateBase64, certificateFingerprint } from "../saml/signing-identity.ts";
import type { ApplicationKeySource, SigningIdentity } from "./context.ts";

/** Reads one Secret of the operator namespace by name (`get`; the portal may not list). */
export type SecretReader = (name: string) => Promise<V1Secret | undefined>;

/**
 * Application keys read from their Secrets (`applicationSigningSecretName`) and kept until the
 * Application's status shows another certificate fingerprint (a rotation), so steady state
 * costs no API call. Metadata and signatures come from the same cached key. A Secret made for
 * an earlier Application of the same name (another uid) is not used.
 */
export class SecretApplicationKeys implements ApplicationKeySource {
  private readonly read: SecretReader;
  private readonly cache = new Map<string, { fingerprint: string; identity: SigningIdentity }>();

  constructor(read: SecretReader) {
    this.read = read;
  }

  async signingFor(application: Application): Promise<SigningIdentity | undefined> {
    const name = application.metadata.name;
    const published = application.status?.signingCertificateFingerprint;
    const cached = this.cache.get(name);
    if (cached && (published === undefined || cached.fingerprint === published))
      return cached.identity;
    const material = readKeyMaterial(await this.read(applicationSigningSecretName(name)));
    if (
      !material ||
      material.application.name !== name ||
      (application.metadata.uid !== undefined &&
        material.application.uid !== application.metadata.uid)
    )
      return undefined;
    const identity: SigningIdentity = {
      privateKey: createPrivateKey(material.privateKeyPem),
      certificatePem: material.certificatePem,
      certificateBase64: certificateBase64(material.certificatePem),
    };
    this.cache.set(name, {
      fingerprint: certificateFingerprint(material.certificatePem),
      identity,
    });
    return identity;
  }
}
