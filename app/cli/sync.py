"""``paydesk sync [--full] [--json]``: run one sync headless (scheduled tasks, servers).

Prints a per-entity summary (or, with ``--json``, one JSON object). Exit status: 0 when
the sync succeeded, 1 when it failed or was interrupted, 2 when it could not start
(no connection, another sync running).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from app.core.config import Profile
from app.core.connections import describe_missing_connection, load_autotask_client
from app.core.credentials import CredentialStore
from app.core.quickbooks.online.read import quickbooks_sync_hook
from app.core.storage.engine import DatabaseError, open_database
from app.core.sync import RunStatus, SyncError, SyncProgress, SyncResult, run_sync
from app.core.sync.hooks import register_sync_hook


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sync",
        help="bring the local database in step with Autotask, then exit",
        description="Sync Autotask into PayDesk's database. The first sync reads everything; "
        "later ones read only what changed.",
    )
    parser.add_argument("--full", action="store_true",
                        help="read everything again, and remove records Autotask no longer has")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object with the figures instead of a table")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    profile_folder: Path | None = getattr(args, "profile", None)
    try:
        profile = Profile.open(profile_folder, getattr(args, "database_url", None))
        engine = open_database(profile.database_url)
    except DatabaseError as exc:
        return _fail(args, str(exc))
    credentials = CredentialStore(profile.key)
    register_sync_hook("quickbooks_online", quickbooks_sync_hook(credentials))
    client = load_autotask_client(engine, credentials)
    if client is None:
        return _fail(args, describe_missing_connection(engine, credentials)
                     or "PayDesk is not connected to Autotask yet.")
    cancel = threading.Event()

    def interrupt(_signum: int, _frame: object) -> None:
        cancel.set()

    previous = signal.signal(signal.SIGINT, interrupt)
    printer = _ProgressLine(enabled=not args.json and sys.stderr.isatty())
    try:
        result = run_sync(engine, client, full=args.full, cancel=cancel, on_progress=printer)
    except SyncError as exc:
        return _fail(args, exc.message)
    finally:
        printer.finish()
        signal.signal(signal.SIGINT, previous)
        client.close()
        engine.dispose()
    if args.json:
        print(json.dumps(result.as_dict()))
    else:
        print(format_summary(result))
    return 0 if result.status is RunStatus.SUCCEEDED else 1


def _fail(args: argparse.Namespace, message: str) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"status": "not_started", "error": message}))
    else:
        print(message, file=sys.stderr)
    return 2


class _ProgressLine:
    """One self-overwriting progress line on a terminal (nothing when output is piped)."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.last = ""

    def __call__(self, progress: SyncProgress) -> None:
        current = progress.current
        if not self.enabled or current is None:
            return
        line = f"Syncing {current.label.lower()}: {current.counts.fetched:,}"
        if current.total:
            line += f" of about {current.total:,}"
        if progress.eta_seconds:
            line += f", about {int(progress.eta_seconds // 60) + 1} min left"
        if line != self.last:
            self.last = line
            print(f"\r{line:<72}", end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.last:
            print(file=sys.stderr)


def format_summary(result: SyncResult) -> str:
    """The table ``paydesk sync`` prints."""
    headers = ("", "Fetched", "New", "Updated", "Removed", "Quarantined", "Requests")
    rows = [
        (e.label, f"{e.fetched:,}", f"{e.inserted:,}", f"{e.updated:,}", f"{e.deleted:,}",
         f"{e.quarantined:,}", f"{e.requests:,}")
        for e in result.entities
    ]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                       for i, c in enumerate(r)) for r in [headers, *rows]]
    kind = {"full": "Full sync", "incremental": "Sync", "reconcile": "Full check"}[
        result.kind.value]
    outcome = {
        RunStatus.SUCCEEDED: "finished",
        RunStatus.FAILED: "failed",
        RunStatus.CANCELLED: "was cancelled",
        RunStatus.RUNNING: "is running",
    }[result.status]
    lines.append("")
    lines.append(f"{kind} {outcome} in {result.seconds:.1f} s with {result.requests:,} "
                 "Autotask requests.")
    if result.error:
        lines.append(result.error)
    for e in result.entities:
        if e.error:
            lines.append(f"{e.label}: {e.error}")
    return "\n".join(lines)
