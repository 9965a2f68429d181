"""``paydesk setup gateway NAME``: the wizard's payment-gateway step without the window.

    paydesk setup gateway stripe [--return-url URL]
    paydesk setup gateway authorize-net --api-login-id ID [--environment sandbox]

The gateways, their fields and their rules come from the gateway providers
(:mod:`app.core.gateways.providers`): each provider's plain fields become options, and its
main secret is read from the environment variable ``PAYDESK_<GATEWAY>_<FIELD>`` (for Stripe
``PAYDESK_STRIPE_SECRET_KEY``) or asked for without showing it — never from the command line.
The account is tested before anything is saved; the secret goes to the keychain only.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from typing import Any

from app.core import net
from app.core.config import get_internal_currency
from app.core.credentials import CredentialStore, KeychainUnavailableError
from app.core.gateways.connection import (
    record_gateway_test,
    save_gateway_connection,
    save_gateway_secret,
    secret_name,
)
from app.core.gateways.providers import GatewayProvider, main_secret, plain_fields, providers
from app.core.gateways.setup_step import GatewayForm, run_gateway_test
from app.core.gateways.types import GatewayMode

__all__ = ["command_name", "register", "run_gateway", "secret_variable"]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_CONNECTION_FAILED = 1
EXIT_BAD_VALUE = 2
EXIT_KEYCHAIN = 4


def command_name(provider: GatewayProvider) -> str:
    """How the command line names a gateway: ``stripe``, ``authorize-net``."""
    return provider.name.lower().replace(".", "-").replace(" ", "-")


def secret_variable(provider: GatewayProvider) -> str:
    """The environment variable the main secret is read from: ``PAYDESK_STRIPE_SECRET_KEY``."""
    return f"PAYDESK_{provider.key.upper()}_{main_secret(provider).name.upper()}"


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "gateway",
        help="connect the payment gateway account",
        description="Connect the payment gateway account without the window. The account "
        "is tested before anything is saved; its secret goes to the system keychain only.",
    )
    names = parser.add_subparsers(dest="gateway_name", metavar="GATEWAY", required=True)
    for provider in providers():
        secret = main_secret(provider)
        sub = names.add_parser(
            command_name(provider),
            help=f"connect a {provider.name} account",
            description=f"Connect a {provider.name} account. {provider.where_to_find} The "
            f"{secret.label.lower()} is read from the environment variable "
            f"{secret_variable(provider)}, or asked for without showing it; never from the "
            "command line.",
            epilog="Exit status: 0 done, 1 the account could not be opened, 2 a value is "
            "missing or not acceptable, 4 the secret could not be stored in the system "
            "keychain.",
        )
        for spec in plain_fields(provider):
            sub.add_argument(_option(spec.name), dest=f"field_{spec.name}",
                             default=spec.default or None,
                             choices=[c for c, _ in spec.choices] or None,
                             help=spec.help or spec.label)
        sub.add_argument(
            "--return-url", default="", metavar="URL",
            help="the page a client's browser goes to after paying on the hosted form, for "
            f"example https://www.yourcompany.com (default: {provider.name}'s own page)")
        sub.add_argument(
            "--gateway-api-base", default="", metavar="URL",
            help=f"only to try PayDesk: the address of the local {provider.name} sandbox")
        sub.set_defaults(handler=run_gateway, gateway_provider=provider)


def _say(text: str = "") -> None:
    print(text, flush=True)


def _complain(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _read_secret(provider: GatewayProvider, credentials: CredentialStore) -> tuple[str, bool]:
    """(secret, typed_now): the environment first, then a hidden prompt, then the stored one."""
    secret = os.environ.get(secret_variable(provider), "")
    if secret:
        return secret, True
    spec = main_secret(provider)
    stored = credentials.get(secret_name(provider.key, spec.name)) or ""
    if sys.stdin is not None and sys.stdin.isatty():
        hint = " (press Enter to keep the stored one)" if stored else ""
        typed = getpass.getpass(f"{provider.name} {spec.label.lower()}{hint}: ")
        if typed:
            return typed, True
    return stored, False


def run_gateway(args: argparse.Namespace) -> int:
    """What the wizard's gateway page does, for the gateway named on the command line."""
    from app.cli.setup import open_profile

    provider: GatewayProvider = args.gateway_provider
    secret_label = main_secret(provider).label.lower()
    profile, engine, credentials = open_profile(args)
    try:
        _say(f"PayDesk profile: {profile.folder}")
        secret, typed = _read_secret(provider, credentials)
        if not secret:
            _complain(f"No {provider.name} {secret_label} was given. Set the environment "
                      f"variable {secret_variable(provider)}, or run this command in a terminal "
                      "to be asked for it.")
            return EXIT_BAD_VALUE
        fields = tuple((spec.name, str(getattr(args, f"field_{spec.name}") or ""))
                       for spec in plain_fields(provider))
        form = GatewayForm(gateway=provider.key, secret_key=secret, return_url=args.return_url,
                           api_base=args.gateway_api_base.strip(), fields=fields)
        problems = [f"{_option(name)}: {text}" if name not in ("secret_key", "return_url")
                    else text for name, text in form.errors().items()]
        if form.api_base:
            try:
                net.require_safe_url(form.api_base, service=f"the {provider.name} sandbox")
            except net.UnsafeURLError as exc:
                problems.append(str(exc))
        if problems:
            for problem in problems:
                _complain(problem)
            return EXIT_BAD_VALUE
        _say(f"Testing the {provider.name} account…")
        outcome = run_gateway_test(form, internal_currency=get_internal_currency(engine))
        if outcome.info is None:
            _complain("The gateway account could not be opened. Nothing was saved.")
            _complain(outcome.message or f"Check the {secret_label}, then try again.")
            return EXIT_CONNECTION_FAILED
        if not credentials.is_secure:
            _complain(credentials.describe_backend())
            _complain(f"Scripted setup needs a system keychain to keep the {provider.name} "
                      f"{secret_label} for later runs. Install or unlock the keychain, then run "
                      "this again. Nothing was saved.")
            return EXIT_KEYCHAIN
        stored = credentials.get(secret_name(provider.key, main_secret(provider).name))
        if typed or stored != secret.strip():
            try:
                save_gateway_secret(credentials, provider.key, secret)
            except KeychainUnavailableError as exc:
                _complain(str(exc))
                _complain("Nothing else was saved. Fix the keychain, then run this again.")
                return EXIT_KEYCHAIN
        connection = save_gateway_connection(engine, form.connection())
        record_gateway_test(engine, connection, outcome.info)
        log.info("Scripted setup saved the %s account %s", provider.key,
                 outcome.info.account_id)
        info = outcome.info
        mode = "live: real money" if info.mode is GatewayMode.LIVE else "test mode"
        _say(f"Connected to {provider.name}: {info.display_name} ({info.account_id}), {mode}.")
        _say(f"  Default currency: {info.default_currency.upper()}")
        if outcome.warning:
            _complain(outcome.warning)
        _say(f"The {provider.name} {secret_label} is stored in the system keychain.")
        return EXIT_OK
    finally:
        engine.dispose()
