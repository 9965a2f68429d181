"""``paydesk email``: the email outbox without the window, for a scheduled task.

    paydesk email send [--json] [--no-reminders] [--secrets-from-environment]
    paydesk email log [--failed] [--json]

``send`` does what the window's background upkeep does: queue the overdue reminders due today
(when the MSP switched them on) and send every email that is due — receipts, pay links,
reminders — retrying temporary failures later. The mail server's password comes from the
keychain, or with ``--secrets-from-environment`` from ``PAYDESK_SMTP_PASSWORD`` for that run
only. Exit status: 0 nothing failed, 1 some email failed or the mail server could not be used,
2 the database could not be opened.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from app.core.config import Profile
from app.core.credentials import CredentialStore
from app.core.email.outbox import EmailState, email_log
from app.core.email.settings import SMTP_PASSWORD_SECRET
from app.core.email.upkeep import run_email_upkeep
from app.core.storage.engine import DatabaseError, open_database

PASSWORD_VARIABLE = "PAYDESK_SMTP_PASSWORD"  # noqa: S105 - the variable's name, not a secret


def check_email(ctx: Any) -> list[Any]:
    """``paydesk doctor``: the mail server, and emails failing for a person to look at."""
    from app.cli.doctor import Finding, Status
    from app.core.email.settings import SECURITY_LABELS, load_smtp_settings

    if ctx.engine is None:
        return []
    settings = load_smtp_settings(ctx.engine)
    if not settings.configured:
        return [Finding("Email", Status.OK, "not set up: PayDesk emails nothing (receipts, pay "
                        "links and reminders need a mail server: `paydesk setup email`).")]
    failed = email_log(ctx.engine, limit=1000, states=[EmailState.FAILED])
    where = (f"sends through {settings.host}:{settings.port} "
             f"({SECURITY_LABELS[settings.security].split(' (')[0]}) from "
             f"{settings.from_address}")
    if settings.username and not ctx.credentials.has(SMTP_PASSWORD_SECRET):
        return [Finding("Email", Status.PROBLEM, f"{where}, but its password is not in the "
                        "keychain. Run `paydesk setup email` again.")]
    if failed:
        return [Finding("Email", Status.PROBLEM, f"{where}; {len(failed)} email(s) failed, the "
                        f"newest: {failed[0].last_error} See `paydesk email log --failed`, "
                        "then Retry or Dismiss them under Settings › Email.")]
    return [Finding("Email", Status.OK, f"{where}.")]


def register(subparsers: Any) -> None:
    from app.cli.doctor import CHECKS

    if check_email not in CHECKS:  # `paydesk doctor` checks email too
        CHECKS.append(check_email)
    parser = subparsers.add_parser(
        "email", help="send due emails (receipts, pay links, reminders); show the email log",
        description="The email outbox without the window.")
    commands = parser.add_subparsers(dest="email_command", metavar="COMMAND")
    commands.required = True
    send = commands.add_parser(
        "send", help="queue today's overdue reminders and send every due email",
        description="Queue the overdue reminders due today (when switched on) and send every "
        "email that is due. Temporary failures are tried again by the next run.",
        epilog="Exit status: 0 nothing failed, 1 an email failed or the mail server could not "
        "be used, 2 the database could not be opened.")
    send.add_argument("--json", action="store_true", help="print one JSON object")
    send.add_argument("--no-reminders", action="store_true",
                      help="only send what is queued; queue no overdue reminders")
    send.add_argument("--secrets-from-environment", action="store_true",
                      help=f"take the mail server's password for this run from "
                      f"{PASSWORD_VARIABLE} instead of the system keychain; nothing is stored")
    send.set_defaults(handler=handle_send)
    log = commands.add_parser("log", help="the newest emails and what became of them")
    log.add_argument("--failed", action="store_true", help="only the emails that failed")
    log.add_argument("--limit", type=int, default=50)
    log.add_argument("--json", action="store_true", help="print JSON lines")
    log.set_defaults(handler=handle_log)


def _open(args: argparse.Namespace) -> tuple[Profile, Any]:
    profile = Profile.open(getattr(args, "profile", None), getattr(args, "database_url", None))
    return profile, open_database(profile.database_url)


def handle_send(args: argparse.Namespace) -> int:
    try:
        profile, engine = _open(args)
    except DatabaseError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    given = ({SMTP_PASSWORD_SECRET: os.environ.get(PASSWORD_VARIABLE, "")}
             if args.secrets_from_environment else None)
    credentials = CredentialStore(profile.key, run_secrets=given)
    try:
        report = run_email_upkeep(engine, credentials, reminders=not args.no_reminders)
    finally:
        engine.dispose()
    sending = report.sending
    ok = sending.failed == 0 and sending.problem is None
    if args.json:
        print(json.dumps({"status": "ok" if ok else "attention", "sent": sending.sent,
                          "retrying": sending.retrying, "failed": sending.failed,
                          "reminders_queued": report.reminders.queued,
                          "reminders_without_contact": report.reminders.without_contact,
                          "problem": sending.problem}))
    else:
        print(report.summary)
    return 0 if ok else 1


def handle_log(args: argparse.Namespace) -> int:
    try:
        _, engine = _open(args)
    except DatabaseError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        rows = email_log(engine, limit=args.limit,
                         states=[EmailState.FAILED] if args.failed else None)
    finally:
        engine.dispose()
    for row in rows:
        when = (row.sent_at or row.created_at).astimezone().strftime("%Y-%m-%d %H:%M")
        if args.json:
            print(json.dumps({"id": row.id, "when": when, "why": row.reason, "to": row.to_address,
                              "subject": row.subject, "state": row.state,
                              "attempts": row.attempts, "error": row.last_error,
                              "result": row.delivery_result}))
        else:
            tail = f" — {row.last_error}" if row.last_error and row.state != "sent" else ""
            print(f"{when}  {row.state_label:<16} {row.reason_label:<18} {row.to_address:<30} "
                  f"{row.subject}{tail}")
    if not rows and not args.json:
        print("No emails yet." if not args.failed else "No email has failed.")
    return 0
