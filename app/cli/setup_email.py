"""``paydesk setup email``: the Email settings' mail server, without the window.

    paydesk setup email --server smtp.office365.com --port 587 --security starttls \\
                        --user billing@msp.com --from billing@msp.com [--from-name "MSP Billing"] \\
                        [--test-to it@msp.com]

The password comes from ``PAYDESK_SMTP_PASSWORD`` or a hidden prompt, never from the command
line, and goes to the system keychain only. With ``--test-to`` a test email is sent first and
nothing is saved when it fails. Exit status: 0 saved, 1 the test email failed, 2 a value is
missing or not acceptable, 4 the password could not be stored in the system keychain.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from dataclasses import replace
from typing import Any

from app.core.credentials import KeychainUnavailableError
from app.core.email.sender import SendFailure, send_test_email
from app.core.email.settings import (
    DEFAULT_PORTS,
    SECURITY_LABELS,
    SMTP_PASSWORD_SECRET,
    ReminderSchedule,
    SmtpSettings,
    is_valid_address,
    load_receipt_settings,
    load_reminder_schedule,
    parse_days,
    save_receipt_settings,
    save_reminder_schedule,
    save_smtp_settings,
)
from app.core.receipt_identity import load_receipt_identity

PASSWORD_VARIABLE = "PAYDESK_SMTP_PASSWORD"  # noqa: S105 - the variable's name, not a secret


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "email", help="set the mail server PayDesk sends receipts, pay links and reminders with",
        description="Set the mail server (SMTP) PayDesk sends with. The password is read from "
        f"{PASSWORD_VARIABLE}, or asked for without showing it; it goes to the system keychain "
        "only.",
        epilog="Exit status: 0 saved, 1 the test email failed (nothing saved), 2 a value is "
        "missing or not acceptable, 4 the password could not be stored in the keychain.")
    parser.add_argument("--server", required=True, help="the mail server, e.g. smtp.office365.com")
    parser.add_argument("--port", type=int, default=None,
                        help="587 for STARTTLS (the default), 465 for TLS")
    parser.add_argument("--security", choices=sorted(SECURITY_LABELS), default="starttls",
                        help="starttls (default) or tls; none only for a relay on this computer")
    parser.add_argument("--user", default="", help="the user name to sign in with (often the "
                        "mailbox address); leave out for a server that needs no sign-in")
    parser.add_argument("--from", dest="from_address", required=True,
                        help="the address emails come from")
    parser.add_argument("--from-name", default="", help="the name shown as the sender")
    parser.add_argument("--test-to", default="", metavar="ADDRESS",
                        help="send a test email to this address before saving")
    parser.add_argument("--receipts", choices=("on", "off"), default=None,
                        help="email the PDF receipt after each payment and refund (on by "
                        "default)")
    parser.add_argument("--reminders", default=None, metavar="DAYS|off",
                        help="overdue reminders on these days after the due date, e.g. "
                        "'1,7,14', or 'off' (off by default)")
    parser.set_defaults(handler=run_email_setup)


def _read_password(args: argparse.Namespace, stored: str | None) -> str | None:
    given = os.environ.get(PASSWORD_VARIABLE, "")
    if given:
        return given
    if args.user and sys.stdin is not None and sys.stdin.isatty():
        hint = " (press Enter to keep the stored one)" if stored else ""
        typed = getpass.getpass(f"Password for {args.user} on {args.server}{hint}: ")
        if typed:
            return typed
    return stored


def run_email_setup(args: argparse.Namespace) -> int:
    from app.cli.setup import open_profile

    profile, engine, credentials = open_profile(args)
    try:
        print(f"PayDesk profile: {profile.folder}", flush=True)
        settings = SmtpSettings(
            host=args.server.strip(), port=args.port or DEFAULT_PORTS[args.security],
            security=args.security, username=args.user.strip(),
            from_address=args.from_address.strip(), from_name=args.from_name.strip())
        problems = settings.problems()
        if args.test_to and not is_valid_address(args.test_to):
            problems.append(f"--test-to: {args.test_to} is not an email address.")
        stored = credentials.get(SMTP_PASSWORD_SECRET)
        password = _read_password(args, stored)
        if settings.username and not password:
            problems.append(f"No password was given for {settings.username}. Set "
                            f"{PASSWORD_VARIABLE}, or run this in a terminal to be asked.")
        schedule: ReminderSchedule | None = None
        if args.reminders is not None:
            if args.reminders.strip().lower() == "off":
                schedule = ReminderSchedule(False, load_reminder_schedule(engine).days_overdue)
            else:
                try:
                    schedule = ReminderSchedule(True, parse_days(args.reminders))
                except ValueError as exc:
                    problems.append(f"--reminders: {exc}")
                else:
                    problems.extend(f"--reminders: {p}" for p in schedule.problems())
        if problems:
            for problem in problems:
                print(problem, file=sys.stderr)
            return 2
        if args.test_to:
            print(f"Sending a test email to {args.test_to}…", flush=True)
            try:
                company = load_receipt_identity(engine).name or "PayDesk"
                print(send_test_email(settings, password, args.test_to, company_name=company))
            except SendFailure as exc:
                print(exc.message, file=sys.stderr)
                print("Nothing was saved.", file=sys.stderr)
                return 1
        if settings.username and password and password != stored:
            if not credentials.is_secure:
                print(credentials.describe_backend(), file=sys.stderr)
                print("Scripted setup needs a system keychain to keep the mail server's "
                      "password for later runs. Install or unlock the keychain, then run this "
                      "again. Nothing was saved.", file=sys.stderr)
                return 4
            try:
                credentials.set(SMTP_PASSWORD_SECRET, password)
            except KeychainUnavailableError as exc:
                print(str(exc), file=sys.stderr)
                print("Nothing else was saved. Fix the keychain, then run this again.",
                      file=sys.stderr)
                return 4
        save_smtp_settings(engine, settings)
        if args.receipts is not None:
            current = load_receipt_settings(engine)
            save_receipt_settings(engine, replace(current, enabled=args.receipts == "on"))
        if schedule is not None:
            save_reminder_schedule(engine, schedule)
        print(f"PayDesk sends email through {settings.host}:{settings.port} "
              f"({SECURITY_LABELS[settings.security].split(' (')[0]}) from "
              f"{settings.from_address}.")
        if settings.username:
            print("The password is stored in the system keychain.")
        receipts = load_receipt_settings(engine)
        reminders = load_reminder_schedule(engine)
        print("Receipts by email: " + ("on" if receipts.enabled else "off") + ".")
        print("Overdue reminders: " + (
            "on, " + ", ".join(str(d) for d in reminders.days_overdue) + " days after the due "
            "date." if reminders.enabled else "off."))
        return 0
    finally:
        engine.dispose()
