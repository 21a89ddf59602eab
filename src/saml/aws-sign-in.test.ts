import { describe, expect, it } from "vitest";
import { awsSignInClaims } from "./aws-sign-in.ts";

const wiki = { entityId: "https://wiki.example.com/saml", acsUrl: "https://wiki.example.com/acs" };

describe("awsSignInClaims (run-time refusal of Applications that impersonate AWS sign-in)", () => {
  it.each([
    ["the AWS audience", { entityId: "urn:amazon:webservices" }, "spec.entityId"],
    ["the China audience", { entityId: "urn:amazon:webservices:cn" }, "spec.entityId"],
    ["the GovCloud audience", { entityId: "urn:amazon:webservices:govcloud" }, "spec.entityId"],
    ["the audience in other case", { entityId: " URN:Amazon:WebServices " }, "spec.entityId"],
    [
      "a sign-in URL as audience",
      { entityId: "https://us-east-1.signin.aws.amazon.com/saml" },
      "spec.entityId",
    ],
    ["an ACS URL on AWS sign-in", { acsUrl: "https://signin.aws.amazon.com/saml" }, "spec.acsUrl"],
    [
      "an ACS URL on regional sign-in",
      { acsUrl: "https://eu-west-1.signin.aws.amazon.com/saml" },
      "spec.acsUrl",
    ],
    ["an ACS URL on China sign-in", { acsUrl: "https://signin.amazonaws.cn/saml" }, "spec.acsUrl"],
    [
      "an ACS URL on GovCloud sign-in",
      { acsUrl: "https://us-gov-west-1.signin.amazonaws-us-gov.com/saml" },
      "spec.acsUrl",
    ],
    [
      "an ACS URL in other case with a trailing dot",
      { acsUrl: "https://SignIn.AWS.Amazon.com.:443/saml" },
      "spec.acsUrl",
    ],
    [
      "an ACS URL behind userinfo",
      { acsUrl: "https://wiki.example.com@signin.aws.amazon.com/saml" },
      "spec.acsUrl",
    ],
    [
      "an ACS URL with an escaped dot",
      { acsUrl: "https://signin%2Eaws.amazon.com/saml" },
      "spec.acsUrl",
    ],
    [
      "an ACS URL with Unicode dots",
      { acsUrl: "https://signin\u3002aws\uff0eamazon.com/saml" },
      "spec.acsUrl",
    ],
    [
      "an ACS URL behind a backslash",
      { acsUrl: String.raw`https://signin.aws.amazon.com\@wiki.example.com/saml` },
      "spec.acsUrl",
    ],
    [
      "the Role attribute",
      { attributeMappings: [{ name: "https://aws.amazon.com/SAML/Attributes/Role" }] },
      "spec.attributeMappings[0].name",
    ],
    [
      "an AWS attribute in other case",
      {
        attributeMappings: [
          { name: "dept" },
          { name: "HTTPS://AWS.Amazon.com/saml/attributes/SessionDuration" },
        ],
      },
      "spec.attributeMappings[1].name",
    ],
  ])("refuses %s", (_name, change, field) => {
    expect(awsSignInClaims({ ...wiki, ...change }).map((c) => c.field)).toEqual([field]);
  });

  it.each([
    ["an ordinary application", {}],
    [
      "AWS Client VPN, a service provider of its own",
      { entityId: "urn:amazon:webservices:clientvpn", acsUrl: "http://127.0.0.1:35001" },
    ],
    [
      "a Grafana workspace on amazonaws.com",
      {
        entityId: "https://g-abc.grafana-workspace.us-east-1.amazonaws.com/saml/metadata",
        acsUrl: "https://g-abc.grafana-workspace.us-east-1.amazonaws.com/saml/acs",
      },
    ],
    ["a look-alike host", { acsUrl: "https://signin.aws.amazon.com.example.com/saml" }],
  ])("admits %s", (_name, change) => {
    expect(awsSignInClaims({ ...wiki, ...change })).toEqual([]);
  });
});
