"""moto's server (same arguments as moto_server), for runs with hundreds of accounts.

Two changes, both in how moto finds and builds an account, none in what an API call does:

1. moto finds the account of a request by its access key by looking into every account's IAM
   backend for every partition (aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-eusc), and
   looking creates the backends it looks into: the first request after an account appears
   builds six IAM backends for it, each with moto's whole catalogue of AWS managed policies
   (about 0.2 s of CPU and 6 MiB each). Here it looks only into backends that exist (a backend
   just built holds no keys, so the answer is the same) and remembers where a key was found.

2. IDC_MOTO_AWS_MANAGED_POLICIES (a comma-separated list of policy names, e.g.
   "ReadOnlyAccess,ViewOnlyAccess") loads only those AWS managed policies into each account
   instead of all of about 1,600; an ARN outside the list is then "not found" as it would be
   for a policy AWS does not have.
"""

import json
import os
import sys

import moto.iam.models as iam_models
from moto.core import DEFAULT_ACCOUNT_ID

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

wanted = os.environ.get("IDC_MOTO_AWS_MANAGED_POLICIES", "")
if wanted:
    names = {n.strip() for n in wanted.split(",") if n.strip()}
    catalogue = json.loads(iam_models.aws_managed_policies_data)
    missing = names - catalogue.keys()
    if missing:
        sys.exit(f"moto has no AWS managed policies named {sorted(missing)}")
    iam_models.aws_managed_policies_data = json.dumps(
        {name: catalogue[name] for name in names}
    )

from moto.server import main  # noqa: E402  (after the changes above)

if __name__ == "__main__":
    main(sys.argv[1:])
