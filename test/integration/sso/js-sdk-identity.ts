// Who the AWS SDK for JavaScript v3 is with a profile: fromIni follows the profile's
// sso_session to the token cache idc wrote, and the services section to the portal.
// Usage: node js-sdk-identity.ts PROFILE STS_ENDPOINT. Prints JSON; on failure the error, exit 1.
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { fromIni } from "@aws-sdk/credential-providers";

const [profile = "", endpoint = ""] = process.argv.slice(2);
try {
  const credentials = fromIni({ profile });
  const who = await new STSClient({ region: "us-east-1", endpoint, credentials }).send(
    new GetCallerIdentityCommand({}),
  );
  const resolved = await credentials();
  process.stdout.write(
    `${JSON.stringify({ Account: who.Account, Arn: who.Arn, AccessKeyId: resolved.accessKeyId })}\n`,
  );
} catch (err) {
  process.stderr.write(`${(err as Error).name}: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
