import { describe, expect, it } from "vitest";
import { parseConfig, serializeConfig } from "./aws-config.ts";
import { populateProfiles, profileNames } from "./profiles.ts";

const options = { session: "idc", region: "eu-west-1", services: "idc-idc" };
const prod = { accountId: "111111111111", accountName: "Production", roleName: "ReadOnlyAccess" };
const stage = { accountId: "222222222222", accountName: "Staging", roleName: "Admin" };

describe("the AWS config file", () => {
  it("keeps every line of a file it only reads, comments and odd spacing included", () => {
    const text = "# mine\n[default]\nregion=us-east-1\n\n[ profile  x ]\n  # indented\nfoo = bar\n";
    expect(serializeConfig(parseConfig(text))).toBe(text.replace("[ profile  x ]", "[profile x]"));
  });
});

describe("idc configure's profiles", () => {
  it("names a profile per account and role; same-named accounts get their id", () => {
    const twin = { ...stage, accountId: "333333333333", accountName: "staging" };
    expect([...profileNames([prod, stage, twin]).keys()]).toEqual([
      "production.ReadOnlyAccess",
      "staging-222222222222.Admin",
      "staging-333333333333.Admin",
    ]);
  });

  it("writes sso_session profiles pointing at the portal's services section", () => {
    const { config, written } = populateProfiles(parseConfig(""), [prod], options);
    expect(written).toEqual(["production.ReadOnlyAccess"]);
    expect(serializeConfig(config)).toBe(
      "[profile production.ReadOnlyAccess]\nsso_session = idc\nsso_account_id = 111111111111\nsso_role_name = ReadOnlyAccess\nservices = idc-idc\nregion = eu-west-1\nidc_sso_session = idc\n\n",
    );
  });

  it("writes credential_process profiles without any sso_* key (botocore would prefer those)", () => {
    const { config } = populateProfiles(parseConfig(""), [prod], {
      ...options,
      credentialProcess: "idc",
    });
    const text = serializeConfig(config);
    expect(text).toContain(
      "credential_process = idc credentials --sso-session idc --account 111111111111 --role ReadOnlyAccess\n",
    );
    expect(text).not.toMatch(/^sso_/m);
  });

  it("removes its own profiles whose access is gone and never touches the user's", () => {
    const first = populateProfiles(
      parseConfig("[profile mine]\nregion = x\n"),
      [prod, stage],
      options,
    );
    const gone = populateProfiles(first.config, [stage], options);
    expect(gone.removed).toEqual(["production.ReadOnlyAccess"]);
    expect(serializeConfig(gone.config)).toContain("[profile mine]\nregion = x\n");
    // Another session's profiles are not this session's to remove.
    expect(populateProfiles(first.config, [], { ...options, session: "other" }).removed).toEqual(
      [],
    );
  });

  it("skips a name the user's own profile already has, leaving it as it was", () => {
    const user = "[profile staging.Admin]\nregion = y\n";
    const result = populateProfiles(parseConfig(user), [prod, stage], options);
    expect(result.skipped).toEqual(["staging.Admin"]);
    expect(result.written).toEqual(["production.ReadOnlyAccess"]);
    expect(serializeConfig(result.config).startsWith(user)).toBe(true);
  });
});
