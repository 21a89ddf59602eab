"""Who boto3 is with a profile: botocore's own SSO provider (or credential_process) gets the
credentials from the cache and config that idc wrote; STS (moto) says whose they are.
Usage: boto3_identity.py PROFILE STS_ENDPOINT. Prints JSON; on failure the error and exit 1."""
import json
import sys

import boto3

profile, sts_endpoint = sys.argv[1], sys.argv[2]
try:
    session = boto3.Session(profile_name=profile)
    who = session.client("sts", endpoint_url=sts_endpoint).get_caller_identity()
    frozen = session.get_credentials().get_frozen_credentials()
    print(json.dumps({"Account": who["Account"], "Arn": who["Arn"], "AccessKeyId": frozen.access_key}))
except Exception as err:  # the test reads the class and message
    print(f"{type(err).__name__}: {err}", file=sys.stderr)
    sys.exit(1)
