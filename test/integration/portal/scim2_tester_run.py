"""Runs scim2-tester's check_server against a SCIM base URL and prints the results as JSON.

The bearer token comes from $SCIM_TOKEN (not argv, which other users of the machine can see).
"""

import json
import os
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server


def main() -> None:
    base_url = sys.argv[1].rstrip("/")
    http = Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {os.environ['SCIM_TOKEN']}"},
        timeout=30,
    )
    client = SyncSCIMClient(http)
    results = check_server(client)
    print(
        json.dumps(
            [
                {
                    "title": r.title,
                    "status": r.status.name,
                    "reason": r.reason,
                    "resourceType": r.resource_type,
                    "tags": sorted(r.tags),
                }
                for r in results
            ]
        )
    )


if __name__ == "__main__":
    main()
