"""Run one sync in a separate process (killed at random moments by the reliability tests).

Usage: python -m tests.reliability.sync_worker DATABASE_URL DISCOVERY_URL USER SECRET CODE
"""

from __future__ import annotations

import sys
import threading

from app.core.autotask import AutotaskClient, AutotaskCredentials, RetryPolicy
from app.core.storage.engine import open_database
from app.core.sync import SyncOptions, run_sync


def main(argv: list[str]) -> int:
    url, discovery, user, secret, code = argv
    engine = open_database(url)
    client = AutotaskClient(AutotaskCredentials(user, secret, code), discovery_url=discovery,
                            retry=RetryPolicy(attempts=8, backoff_base=0.01, backoff_max=0.05,
                                              retry_after_max=0.05))
    result = run_sync(engine, client, cancel=threading.Event(),
                      options=SyncOptions(page_size=100))
    print(result.status.value, flush=True)
    return 0 if result.status.value == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
