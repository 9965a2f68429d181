"""A PayDesk process for the QuickBooks token crash tests: it opens the stored QuickBooks Online
connection exactly as the sync and the posting worker do, makes one API call (which refreshes
the tokens first) and SIGKILLs itself at the step named by ``--crash-at``
(``quickbooks.tokens.after_refresh``: Intuit answered, nothing saved yet;
``quickbooks.tokens.after_save``: the new refresh token is in the keychain, not used yet).

    python -m tests.reliability.quickbooks_token_child --profile DIR --crash-at STEP
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from app.core.config import Profile
from app.core.credentials import CredentialStore
from app.core.quickbooks.online.setup import open_quickbooks_client
from app.core.storage.engine import open_database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", type=Path, required=True)
    parser.add_argument("--crash-at", default="")
    parser.add_argument("--refreshes", type=int, default=1,
                        help="refresh this many times (each followed by one API call)")
    args = parser.parse_args(argv)

    def checkpoint(step: str) -> None:
        if step == args.crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

    profile = Profile.open(args.profile)
    engine = open_database(profile.database_url)
    client = open_quickbooks_client(engine, CredentialStore(profile.key), checkpoint=checkpoint)
    assert client is not None
    with client:
        for _ in range(args.refreshes):
            client.tokens.forget_access()  # type: ignore[attr-defined]
            client.company_info()
    return 0


if __name__ == "__main__":
    sys.exit(main())
