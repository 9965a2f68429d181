"""Secrets, keys, tokens, card and account numbers never reach a log file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.core.credentials import CredentialStore, SecretName
from app.core.logs import redact, setup_logging

CARD = "4242 4242 4242 4242"
SECRETS = [
    "Zx9-very-secret-Autotask-pw",
    "sk_test_51HxYzAbCdEfGhIjKlMnOp",
    "ya29.a0AfH6SMBx-oauth-access-token",
]


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = setup_logging(tmp_path / "logs")
    assert path is not None
    yield path
    setup_logging(None)


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def test_known_secrets_and_patterns_never_reach_the_log(log_file: Path) -> None:
    store = CredentialStore("redaction-test")
    store.set(SecretName.AUTOTASK_SECRET, SECRETS[0])
    log = logging.getLogger("app.test")
    log.warning("Autotask call with Secret: %s failed", SECRETS[0])
    log.warning("headers %s", {"Secret": SECRETS[0], "ApiIntegrationCode": "ABCDEF123456"})
    log.warning("gateway key %s", SECRETS[1])
    log.warning("Authorization: Bearer %s", SECRETS[2])
    log.warning('{"refresh_token": "%s"}', "AB11xyzRefreshToken9")
    log.warning("card %s and %s", CARD, CARD.replace(" ", "-"))
    log.warning("bank account number 000123456789, routing: 110000000")
    try:
        raise RuntimeError(f"declined {SECRETS[0]} {CARD}")
    except RuntimeError:
        log.exception("crash")
    _flush()
    content = log_file.read_text()
    for secret in [*SECRETS, "ABCDEF123456", "AB11xyzRefreshToken9", "000123456789", "110000000"]:
        assert secret not in content
    assert "4242" not in content.replace("[card number redacted]", "")
    assert content.count("[redacted]") >= 6


def test_ordinary_numbers_survive() -> None:
    line = "Invoice 100234 for 12 items, total 1234.56, ticket T20241105.0042"
    assert redact(line) == line


def test_non_luhn_digit_runs_are_kept() -> None:
    assert redact("batch 1234567890123") == "batch 1234567890123"
