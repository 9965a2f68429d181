"""``paydesk doctor``: check this PayDesk installation and explain what needs fixing.

It checks, in order: the profile folder, on Linux the system libraries the window needs, the
database (where, schema version), the system
keychain, the internal currency, the setup steps, Autotask (reachable and accepting the
stored API user) and the last sync. Each line says what was found and, when something is
wrong, what to do. Exit status 0 only when everything is in order, 1 otherwise.

Other parts of PayDesk add their own checks by appending to `CHECKS`.
"""

from __future__ import annotations

import argparse
import enum
import os
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from app.cli.run_secrets import add_option as add_secrets_option
from app.cli.run_secrets import credential_store
from app.core.clock import utcnow
from app.core.config import Profile, get_internal_currency
from app.core.connections import (
    describe_missing_connection,
    load_autotask_connection,
)
from app.core.credentials import CredentialStore, SecretName
from app.core.display_libraries import describe_missing_display_libraries
from app.core.logs import setup_logging
from app.core.setup.autotask_step import AutotaskForm, run_connection_test
from app.core.setup.outcomes import describe_success
from app.core.setup.steps import setup_status
from app.core.storage.engine import create_database_engine
from app.core.storage.migrate import current_revision, head_revision
from app.core.storage.models import SyncRun


class Status(enum.Enum):
    OK = "ok"
    PROBLEM = "problem"


@dataclass(frozen=True, slots=True)
class Finding:
    title: str
    status: Status
    text: str


@dataclass
class DoctorContext:
    """What the checks share. ``engine`` is None when the database could not be opened."""

    profile: Profile
    credentials: CredentialStore
    engine: Engine | None = None


Check = Callable[[DoctorContext], list[Finding]]


def _ok(title: str, text: str) -> list[Finding]:
    return [Finding(title, Status.OK, text)]


def _problem(title: str, text: str) -> list[Finding]:
    return [Finding(title, Status.PROBLEM, text)]


def check_profile(ctx: DoctorContext) -> list[Finding]:
    folder = ctx.profile.folder
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-", delete=True):
            pass
    except OSError:
        return _problem("Profile", f"{folder} — PayDesk cannot write in this folder. Check its "
                        "permissions, or choose another folder with --profile.")
    return _ok("Profile", f"{folder}")


def check_logs(ctx: DoctorContext) -> list[Finding]:
    """The log file is where PayDesk writes what went wrong; without it nobody can look."""
    folder = ctx.profile.logs_folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-", delete=True):
            pass
    except OSError:
        return _problem("Log file", f"{folder} — PayDesk cannot write its log file in this "
                        "folder, so problems cannot be looked into afterwards. PayDesk still "
                        "works. Make the folder writable for this user (or remove it: PayDesk "
                        "creates it).")
    return _ok("Log file", f"{folder / 'paydesk.log'}")


def check_database(ctx: DoctorContext) -> list[Finding]:
    title = "Database"
    where = ctx.profile.describe_database()
    try:
        engine = create_database_engine(ctx.profile.database_url)
        revision = current_revision(engine)
    except Exception as exc:  # any driver error means the same thing to the person reading
        return _problem(title, f"{where} — it could not be opened ({type(exc).__name__}). "
                        "Check that the file or server is reachable and that you may use it.")
    head = head_revision()
    if revision is None:
        engine.dispose()
        return _problem(title, f"{where} — it is empty: PayDesk has not been set up with this "
                        "profile yet. Open PayDesk, or run `paydesk setup`.")
    if revision != head:
        engine.dispose()
        return _problem(title, f"{where} — schema version {revision}, but this PayDesk needs "
                        f"{head}. Start this version of PayDesk once to bring it up to date "
                        "(every seat sharing the database needs the same version).")
    ctx.engine = engine
    return _ok(title, f"{where} (schema version {revision}, up to date)")


def check_keychain(ctx: DoctorContext) -> list[Finding]:
    text = ctx.credentials.describe_backend()
    if ctx.credentials.is_secure or ctx.credentials.has_run_secrets:
        return _ok("Keychain", text)
    return _problem("Keychain", text + " Install or unlock a system keychain (on Linux the "
                    "Secret Service, for example GNOME Keyring).")


def check_currency(ctx: DoctorContext) -> list[Finding]:
    if ctx.engine is None:
        return []
    code = get_internal_currency(ctx.engine)
    if code is None:
        return _problem("Currency", "The internal currency has not been chosen yet. Open PayDesk "
                        "to run the setup, or use `paydesk setup --currency CODE …`.")
    return _ok("Currency", f"{code} (locked)")


def check_autotask(ctx: DoctorContext) -> list[Finding]:
    title = "Autotask"
    if ctx.engine is None:
        return []
    missing = describe_missing_connection(ctx.engine, ctx.credentials)
    connection = load_autotask_connection(ctx.engine)
    if missing or connection is None:
        return _problem(title, missing or "PayDesk is not connected to Autotask yet.")
    form = AutotaskForm(
        username=connection.username,
        integration_code=connection.integration_code,
        zone_url=connection.zone_url,
        discovery_url=connection.discovery_url,
        secret_stored=True,
    )
    outcome = run_connection_test(form, ctx.credentials.get(SecretName.AUTOTASK_SECRET))
    if outcome.failure is not None:
        return _problem(title, f"API user {connection.username}: {outcome.failure.text()}")
    assert outcome.report is not None
    details = "; ".join(f"{label}: {value}" for label, value in describe_success(outcome.report))
    return _ok(title, f"reachable; API user {connection.username} accepted. {details}")


def check_setup_steps(ctx: DoctorContext) -> list[Finding]:
    """Steps added by other parts (gateway, QuickBooks) that are not done yet."""
    if ctx.engine is None:
        return []
    already = {"currency", "autotask"}  # explained by their own checks
    return [
        Finding(requirement.title, Status.PROBLEM, problem)
        for requirement, problem in setup_status(ctx.engine, ctx.credentials).missing
        if requirement.key not in already
    ]


def _ago(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} hours ago"
    return f"{hours // 24} days ago"


def check_last_sync(ctx: DoctorContext) -> list[Finding]:
    title = "Last sync"
    if ctx.engine is None:
        return []
    with ctx.engine.connect() as connection:
        run = connection.execute(
            select(SyncRun.kind, SyncRun.status, SyncRun.started_at, SyncRun.finished_at,
                   SyncRun.error, SyncRun.counts)
            .order_by(SyncRun.started_at.desc()).limit(1)
        ).first()
    if run is None:
        return _problem(title, "PayDesk has not downloaded anything from Autotask yet. Run "
                        "`paydesk sync` (or open PayDesk) to do the first sync.")
    kind, status, started_at, finished_at, error, counts = run
    when = _ago((utcnow() - (finished_at or started_at)).total_seconds())
    records = sum(
        int(entity.get("fetched") or 0)
        for entity in (counts or {}).values()
        if isinstance(entity, dict)
    )
    if status == "succeeded":
        return _ok(title, f"the {kind} sync finished {when}; {records:,} records read.")
    if status == "running":
        return _ok(title, f"a {kind} sync is running (started {when}).")
    if status == "cancelled":
        return _problem(title, f"the last {kind} sync was cancelled {when}. Run `paydesk "
                        "sync` to finish it; it continues where it stopped.")
    reason = (error or "no reason was recorded").strip()
    return _problem(title, f"the last {kind} sync failed {when}: {reason}")


def check_display(_ctx: DoctorContext) -> list[Finding]:
    """On Linux: the system libraries the window needs (``app.core.display_libraries``)."""
    if not sys.platform.startswith("linux"):
        return []
    problem = describe_missing_display_libraries()
    if problem is None:
        return _ok("Window", "the system libraries the PayDesk window needs are installed.")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        # A server or a remote shell: the command line works; the window is for a desktop.
        return _ok("Window", "no desktop here (the commands work). Before opening the "
                   "window on this computer: " + problem)
    return _problem("Window", problem)


#: The checks, in the order they are printed. Other parts append theirs.
CHECKS: list[Check] = [
    check_profile,
    check_logs,
    check_display,
    check_database,
    check_keychain,
    check_currency,
    check_autotask,
    check_setup_steps,
    check_last_sync,
]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check this PayDesk installation and explain anything that needs fixing",
        description="Check the profile, log file, database, keychain, internal currency, the "
        "Autotask connection and the last sync, and say what to do about anything that is wrong. "
        "Exit status 0 only when everything is in order.",
    )
    add_secrets_option(parser)
    parser.set_defaults(handler=run)


def run_checks(profile: Profile, credentials: CredentialStore) -> list[Finding]:
    ctx = DoctorContext(profile, credentials)
    findings: list[Finding] = []
    try:
        for check in CHECKS:
            findings.extend(check(ctx))
    finally:
        if ctx.engine is not None:
            ctx.engine.dispose()
    return findings


def run(args: argparse.Namespace) -> int:
    profile = Profile.open(getattr(args, "profile", None), getattr(args, "database_url", None))
    setup_logging(profile.logs_folder)
    findings = run_checks(profile, credential_store(args, profile))
    width = max(len(f.title) for f in findings)
    columns = max(60, min(110, shutil.get_terminal_size((100, 24)).columns))
    for finding in findings:
        mark = "OK " if finding.status is Status.OK else "FIX"
        indent = " " * (width + 8)
        lines: list[str] = []
        for paragraph in finding.text.splitlines() or [""]:
            lines.extend(textwrap.wrap(paragraph, columns - len(indent)) or [""])
        print(f"[{mark}] {finding.title.ljust(width)}  {lines[0]}")
        for line in lines[1:]:
            print(indent + line)
    problems = sum(1 for f in findings if f.status is Status.PROBLEM)
    print()
    if problems:
        print(f"{problems} thing{'s' if problems != 1 else ''} need{'s' if problems == 1 else ''} "
              "attention (marked FIX above).")
        return 1
    print("Everything is in order.")
    return 0
