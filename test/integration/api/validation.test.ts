import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { operatorCrdFiles } from "../../harness/crds.ts";
import { apiErrorMessage } from "../../harness/objects.ts";
import { repoRoot } from "../../harness/paths.ts";
import { useTestEnvironment } from "../../harness/use-environment.ts";

// Each file under invalid/ holds one object that breaks one rule, and a first line
// `# expect: <text>` with what the API server's message must contain. A file with two objects
// creates the first, then updates it to the second, which must be refused.
const corpusDir = path.join(repoRoot, "test/integration/api/invalid");
const corpus = readdirSync(corpusDir)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
  .map((file) => {
    const text = readFileSync(path.join(corpusDir, file), "utf8");
    const expected = /^# expect: (.+)$/m.exec(text)?.[1];
    if (!expected) throw new Error(`${file} has no "# expect:" line`);
    const objects = parseAllDocuments(text).map((d) => d.toJS() as KubernetesObject);
    return { file, expected, objects };
  });

// One API server for the whole file.
const env = useTestEnvironment({ crdFiles: operatorCrdFiles() });

describe("API server validation of invalid objects", () => {
  it("has a corpus of at least 40 invalid objects", () => {
    expect(corpus.length).toBeGreaterThanOrEqual(40);
  });

  it.each(corpus)("refuses $file", async ({ expected, objects }) => {
    const api = KubernetesObjectApi.makeApiClient(env().kubeConfig());
    const invalid = objects.at(-1);
    if (!invalid) throw new Error("empty corpus file");
    const before =
      objects.length > 1 ? await api.create(objects[0] as KubernetesObject) : undefined;

    let message = "";
    try {
      if (before) {
        // Same object, new spec: keep the stored metadata (resourceVersion) for the update.
        await api.replace({ ...invalid, metadata: before.metadata });
      } else {
        await api.create(invalid);
      }
    } catch (err) {
      message = apiErrorMessage(err);
    }
    expect(message, "the API server accepted an invalid object").not.toBe("");
    expect(message).toContain(expected);

    if (before) {
      // The refused update changed nothing.
      const current = await api.read(before as KubernetesObject & { metadata: { name: string } });
      expect((current as { spec?: unknown }).spec).toEqual((before as { spec?: unknown }).spec);
      await api.delete(current);
    }
  });
});

/** An Application as its author would write it; `spec` overrides the harmless defaults. */
const application = (name: string, spec: Record<string, unknown>): KubernetesObject =>
  ({
    apiVersion: "identitycenter.dev/v1alpha1",
    kind: "Application",
    metadata: { name },
    spec: {
      displayName: "Wiki",
      entityId: "https://wiki.example.com/saml",
      acsUrl: "https://wiki.example.com/saml/acs",
      ...spec,
    },
  }) as KubernetesObject;

describe("API server refuses Applications that impersonate AWS sign-in (server dry run)", () => {
  const dryRun = async (object: KubernetesObject) => {
    const api = KubernetesObjectApi.makeApiClient(env().kubeConfig());
    try {
      await api.create(object, undefined, "All");
      return "";
    } catch (err) {
      return apiErrorMessage(err);
    }
  };

  it("refuses an Application that claims the AWS audience, posts to AWS sign-in and sends a fixed Role (minting AWS sign-ins)", async () => {
    const message = await dryRun(
      application("aws-console", {
        entityId: "urn:amazon:webservices",
        acsUrl: "https://signin.aws.amazon.com/saml",
        attributeMappings: [
          {
            name: "https://aws.amazon.com/SAML/Attributes/Role",
            value:
              "arn:aws:iam::111111111111:role/identitycenter/Admin,arn:aws:iam::111111111111:saml-provider/IdentityCenterOperator_default",
          },
          { name: "https://aws.amazon.com/SAML/Attributes/RoleSessionName", value: "anyone" },
        ],
      }),
    );
    expect(message, "the API server admitted an Application that mints AWS sign-ins").not.toBe("");
    expect(message).toContain("spec.entityId: Invalid value");
    expect(message).toContain("must not be the AWS sign-in audience");
    expect(message).toContain("spec.acsUrl: Invalid value");
    expect(message).toContain("must not be an AWS sign-in endpoint");
    expect(message).toContain("spec.attributeMappings[0].name: Invalid value");
    expect(message).toContain("must not be an AWS sign-in attribute");
  });

  it("still admits ordinary applications, including AWS services that are SAML apps of their own", async () => {
    expect(await dryRun(application("wiki", {}))).toBe("");
    // AWS Client VPN is its own service provider with its own audience: its IAM SAML provider
    // trusts the application's certificate, never the instance's.
    expect(
      await dryRun(
        application("client-vpn", {
          entityId: "urn:amazon:webservices:clientvpn",
          acsUrl: "http://127.0.0.1:35001",
        }),
      ),
    ).toBe("");
    expect(
      await dryRun(
        application("grafana", {
          entityId: "https://g-abc.grafana-workspace.us-east-1.amazonaws.com/saml/metadata",
          acsUrl: "https://g-abc.grafana-workspace.us-east-1.amazonaws.com/saml/acs",
          attributeMappings: [{ name: "https://example.com/SAML/Attributes/Role", value: "Admin" }],
        }),
      ),
    ).toBe("");
  });
});
