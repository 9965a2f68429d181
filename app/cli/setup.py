"""``paydesk setup``: what the setup wizard does, without a window — for IT and many seats.

    paydesk setup --currency USD --autotask-username api@msp.com \\
                  --autotask-integration-code CODE [--autotask-zone-url URL]

    paydesk setup gateway stripe [--return-url URL]

The API secret comes from the environment variable ``PAYDESK_AUTOTASK_SECRET`` (the Stripe
secret key from ``PAYDESK_STRIPE_SECRET_KEY``) or a hidden prompt, never from the command
line (command lines are visible to every user of the computer and end up in shell
histories). The connection is tested before anything is stored, so a
failed run changes nothing; the messages are the wizard's.

Exit status: 0 done; 1 the connection test failed; 2 a value is missing or not acceptable;
3 the internal currency is already set to another currency; 4 the secret could not be
stored in the system keychain.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import logging
import os
import sys
from typing import Any

from sqlalchemy import Engine

from app.core.autotask import DEFAULT_DISCOVERY_URL
from app.core.config import (
    CurrencyLockedError,
    Profile,
    get_internal_currency,
    set_internal_currency,
)
from app.core.connections import (
    load_autotask_connection,
    record_successful_test,
    save_autotask_secret,
)
from app.core.credentials import CredentialStore, KeychainUnavailableError, SecretName
from app.core.logs import setup_logging
from app.core.setup.autotask_step import AutotaskForm, run_connection_test
from app.core.setup.currency import is_selectable_currency
from app.core.setup.outcomes import describe_success
from app.core.setup.validation import typed_zone_notice, validate_secret
from app.core.storage.engine import open_database

#: Modules adding `paydesk setup TARGET` (each with ``register(subparsers)``).
SETUP_TARGETS: tuple[str, ...] = (
    "app.cli.setup_gateway",
    "app.cli.setup_quickbooks_online",
    "app.cli.setup_quickbooks_desktop",
    "app.cli.setup_email",
)

SECRET_VARIABLE = "PAYDESK_AUTOTASK_SECRET"  # noqa: S105 - the variable's name, not a secret

EXIT_OK = 0
EXIT_CONNECTION_FAILED = 1
EXIT_BAD_VALUE = 2
EXIT_CURRENCY_LOCKED = 3
EXIT_KEYCHAIN = 4

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "setup",
        help="set PayDesk up without the window (internal currency, Autotask API user)",
        description="Set PayDesk up without opening its window: choose the internal currency "
        "and connect the Autotask API user. The connection is tested before anything is "
        f"saved. The API secret is read from the environment variable {SECRET_VARIABLE}, "
        "or asked for without showing it; it is never taken from the command line.",
        epilog="Exit status: 0 done, 1 connection test failed, 2 a value is missing or not "
        "acceptable, 3 the currency is already set to another one, 4 the secret could not "
        "be stored in the system keychain.",
    )
    parser.add_argument(
        "--currency", default=None, metavar="CODE",
        help="the internal currency, an ISO 4217 code such as USD, EUR or GBP. It can never "
        "be changed afterwards: use the currency your Autotask invoices are in",
    )
    parser.add_argument("--autotask-username", default=None, metavar="EMAIL",
                        help="the Autotask API user's user name (its email address)")
    parser.add_argument("--autotask-integration-code", default=None, metavar="CODE",
                        help="the API integration code (tracking identifier) of the API user")
    parser.add_argument(
        "--autotask-zone-url", default="", metavar="URL",
        help="your Autotask zone's API address, only when automatic discovery fails "
        "(for example https://webservices15.autotask.net/ATServicesRest/)",
    )
    parser.add_argument(
        "--autotask-discovery-url", default=DEFAULT_DISCOVERY_URL, metavar="URL",
        help="the Autotask zone lookup service (default: Autotask's own); point it at "
        "`paydesk sandbox autotask` to try PayDesk without a real Autotask",
    )
    parser.set_defaults(handler=run)
    # `paydesk setup TARGET ...`: the other connections (modules in SETUP_TARGETS).
    targets = parser.add_subparsers(dest="setup_target", metavar="TARGET",
                                    title="other connections")
    for module_name in SETUP_TARGETS:
        importlib.import_module(module_name).register(targets)


def open_profile(args: argparse.Namespace) -> tuple[Profile, Engine, CredentialStore]:
    """The profile, its migrated database and keychain store named by the global options."""
    profile = Profile.open(getattr(args, "profile", None), getattr(args, "database_url", None))
    setup_logging(profile.logs_folder)
    engine = open_database(profile.database_url)
    return profile, engine, CredentialStore(profile.key)


def _say(text: str = "") -> None:
    print(text, flush=True)


def _complain(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _read_secret(credentials: CredentialStore, username: str) -> tuple[str | None, bool]:
    """(secret, typed_now). Environment first, then a hidden prompt, then the stored one."""
    secret = os.environ.get(SECRET_VARIABLE, "")
    if secret:
        return secret, True
    stored = credentials.get(SecretName.AUTOTASK_SECRET)
    if sys.stdin is not None and sys.stdin.isatty():
        hint = " (press Enter to keep the stored one)" if stored else ""
        typed = getpass.getpass(f"Autotask API secret for {username}{hint}: ")
        if typed:
            return typed, True
    return stored, False


def run(args: argparse.Namespace) -> int:
    missing = [flag for flag, value in (("--currency", args.currency),
                                        ("--autotask-username", args.autotask_username),
                                        ("--autotask-integration-code",
                                         args.autotask_integration_code)) if not value]
    if missing:
        _complain(f"paydesk setup needs {', '.join(missing)} (or another connection, such "
                  "as: paydesk setup gateway stripe). See paydesk setup --help.")
        return EXIT_BAD_VALUE
    currency = args.currency.strip().upper()
    form = AutotaskForm(
        username=args.autotask_username,
        integration_code=args.autotask_integration_code,
        zone_url=args.autotask_zone_url,
        discovery_url=args.autotask_discovery_url,
        secret_stored=True,  # the secret is checked separately below
    )
    problems = list(form.errors().values())
    if not is_selectable_currency(currency):
        problems.insert(0, f"{args.currency!r} is not a currency code. Use the three-letter "
                        "ISO 4217 code, for example USD, EUR, GBP, CAD or AUD.")
    if problems:
        for problem in problems:
            _complain(problem)
        return EXIT_BAD_VALUE

    profile, engine, credentials = open_profile(args)
    try:
        _say(f"PayDesk profile: {profile.folder}")
        _say(f"Database: {profile.describe_database()}")
        current = get_internal_currency(engine)
        if current is not None and current != currency:
            _complain(
                f"The internal currency of this PayDesk is already {current} and can never be "
                f"changed, so it cannot become {currency}. Run setup with --currency {current}, "
                "or use a new, empty database for a different currency."
            )
            return EXIT_CURRENCY_LOCKED

        secret, typed = _read_secret(credentials, form.username.strip())
        if not secret:
            _complain(
                f"No Autotask API secret was given. Set the environment variable "
                f"{SECRET_VARIABLE}, or run this command in a terminal to be asked for it."
            )
            return EXIT_BAD_VALUE
        secret_problem = validate_secret(secret)
        if secret_problem:
            _complain(secret_problem)
            return EXIT_BAD_VALUE

        notice = typed_zone_notice(form.zone_url)
        if notice:
            _complain(notice)
        where = form.zone_url.strip() or "the zone Autotask names for this user"
        _say(f"Testing the connection to Autotask as {form.username.strip()} ({where})…")
        outcome = run_connection_test(form, secret)
        if outcome.failure is not None:
            _complain("The connection test failed. Nothing was saved.")
            _complain(outcome.failure.text())
            return EXIT_CONNECTION_FAILED
        assert outcome.report is not None

        if not credentials.is_secure:
            _complain(credentials.describe_backend())
            _complain(
                "Scripted setup needs a system keychain to keep the Autotask secret for later "
                "runs. Install or unlock the keychain (on Linux the Secret Service, for "
                "example GNOME Keyring), then run setup again. Nothing was saved."
            )
            return EXIT_KEYCHAIN
        if typed or credentials.get(SecretName.AUTOTASK_SECRET) != secret:
            try:
                save_autotask_secret(credentials, secret)
            except KeychainUnavailableError as exc:
                _complain(str(exc))
                _complain("Nothing else was saved. Fix the keychain, then run setup again.")
                return EXIT_KEYCHAIN

        try:
            set_internal_currency(engine, currency)
        except CurrencyLockedError as exc:  # another seat chose a moment ago
            _complain(str(exc))
            return EXIT_CURRENCY_LOCKED
        previous = load_autotask_connection(engine)
        record_successful_test(engine, form.connection(), outcome.report)
        log.info("Scripted setup saved the Autotask connection for %s", form.username.strip())

        _say("Connected to Autotask.")
        for label, value in describe_success(outcome.report):
            _say(f"  {label}: {value}")
        _say(f"Internal currency: {currency} (locked; it can never be changed).")
        if previous is not None and not previous.same_sign_in(form.connection()):
            _say(f"The Autotask API user {previous.username} was replaced.")
        _say("The Autotask secret is stored in the system keychain.")
        _say("Next: `paydesk sync` downloads your Autotask data; `paydesk doctor` checks it all.")
        return EXIT_OK
    finally:
        engine.dispose()
