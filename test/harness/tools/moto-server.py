"""moto's server (same arguments as moto_server), with faster accounts.

Three changes, all in how moto finds and builds an account, none in what an API call answers:

1. moto finds the account of a request by its access key by looking into every account's IAM
   backend for every partition (aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-eusc), and
   looking creates the backends it looks into. Here it looks only into backends that exist (a
   backend just built holds no keys, so the answer is the same) and remembers where a key was.

2. Each IAM backend parsed moto's 4.7 MB table of AWS managed policies again and built about
   1,600 policy objects: with six partitions, an account's first IAM call took 3.2 s of moto's
   one core, most of a test file's setup. Here the table is parsed once per process, and the
   policies are loaded only into the `aws` partition, the one all our requests are answered
   from (our ARNs are all `arn:aws:`). Each account still gets policy objects of its own: moto
   counts attachments on them.

3. IDC_MOTO_AWS_MANAGED_POLICIES (a comma-separated list of policy names, e.g.
   "ReadOnlyAccess,ViewOnlyAccess") loads only those AWS managed policies into each account
   instead of all of them, for benchmarks with hundreds of accounts; an ARN outside the list is
   then "not found", as it would be for a policy AWS does not have.
"""

import json
import os
import sys

import moto.iam.models as iam_models
from moto.core import DEFAULT_ACCOUNT_ID

if not hasattr(iam_models.IAMBackend, "_init_aws_policies"):
    sys.exit("moto-server.py: this moto has no IAMBackend._init_aws_policies; update the script")

_found: dict[str, str] = {}


def get_account_id_from(access_key: str) -> str:
    known = _found.get(access_key)
    if known is not None:
        account = dict.get(iam_models.iam_backends, known)
        # The key may have been deleted since: then look again.
        if account is not None and any(
            access_key in b.access_keys for b in list(account.values())
        ):
            return known
    # dict's own items()/values() do not build missing backends (BackendDict's [] does).
    for account_id, account in list(iam_models.iam_backends.items()):
        for backend in list(account.values()):
            if access_key in backend.access_keys:
                _found[access_key] = account_id
                return account_id
    return DEFAULT_ACCOUNT_ID


iam_models.get_account_id_from = get_account_id_from

_catalogue = json.loads(iam_models.aws_managed_policies_data)
wanted = os.environ.get("IDC_MOTO_AWS_MANAGED_POLICIES", "")
if wanted:
    names = {n.strip() for n in wanted.split(",") if n.strip()}
    missing = names - _catalogue.keys()
    if missing:
        sys.exit(f"moto has no AWS managed policies named {sorted(missing)}")
    _catalogue = {name: _catalogue[name] for name in names}


def _init_aws_policies(self):
    if not iam_models.load_iam_aws_managed_policies() or self.region_name != "aws":
        return []
    return [
        iam_models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
        for name, data in _catalogue.items()
    ]


iam_models.IAMBackend._init_aws_policies = _init_aws_policies

from moto.server import main  # noqa: E402  (after the changes above)

if __name__ == "__main__":
    main(sys.argv[1:])
