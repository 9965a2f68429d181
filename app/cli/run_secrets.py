"""Secrets for one run, for servers and scheduled tasks without a keychain.

A Linux server or a Windows service account often has no keychain. ``paydesk sync``,
``paydesk payments recover`` and ``paydesk doctor`` then take ``--secrets-from-environment``:
the Autotask secret from ``PAYDESK_AUTOTASK_SECRET`` and the Stripe key from
``PAYDESK_STRIPE_SECRET_KEY``, for that run only — nothing is stored. Without the option (or
with the variables unset) the keychain is used, and a missing secret is refused as always.
An operator who prefers a keychain of their choosing sets ``PYTHON_KEYRING_BACKEND`` (the
keyring library's own setting), for example to a keyring that the service account can use.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from app.core.config import Profile
from app.core.credentials import CredentialStore, SecretName

AUTOTASK_VARIABLE = "PAYDESK_AUTOTASK_SECRET"
STRIPE_VARIABLE = "PAYDESK_STRIPE_SECRET_KEY"

HELP = (f"take the secrets for this run from the environment ({AUTOTASK_VARIABLE}, "
        f"{STRIPE_VARIABLE}) instead of the system keychain, for servers and scheduled "
        "tasks without one; nothing is stored")


def add_option(parser: Any) -> None:
    parser.add_argument("--secrets-from-environment", action="store_true", help=HELP)


def credential_store(args: argparse.Namespace, profile: Profile) -> CredentialStore:
    """The profile's secrets, with this run's from the environment when asked for."""
    if not getattr(args, "secrets_from_environment", False):
        return CredentialStore(profile.key)
    given = {SecretName.AUTOTASK_SECRET: os.environ.get(AUTOTASK_VARIABLE, "").strip(),
             SecretName.STRIPE_SECRET_KEY: os.environ.get(STRIPE_VARIABLE, "").strip()}
    return CredentialStore(profile.key, run_secrets=given)
