"""Servers and scheduled tasks without a keychain: secrets given for one run, deliberately.

``--secrets-from-environment`` makes ``sync``, ``payments recover`` and ``doctor`` take the
secrets from the environment of that run; without it a missing keychain is refused as always.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from app.__main__ import main
from app.sandbox.autotask import AutotaskSandbox


@pytest.fixture
def sandbox() -> Iterator[AutotaskSandbox]:
    with AutotaskSandbox(companies=5, contacts=5, contracts=2, tickets=5,
                         invoices=10) as running:
        yield running


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out + captured.err


def test_a_run_without_a_keychain(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                  sandbox: AutotaskSandbox) -> None:
    profile = str(tmp_path / "p")
    secret = sandbox.credentials.secret
    monkeypatch.setenv("PAYDESK_AUTOTASK_SECRET", secret)
    code, text = _run(capsys, "--profile", profile, "setup", "--currency", "USD",
                      "--autotask-username", sandbox.credentials.username,
                      "--autotask-integration-code", sandbox.credentials.integration_code,
                      "--autotask-discovery-url", sandbox.url)
    assert code == 0, text
    # The server the task runs on has no keychain at all.
    keyring.set_keyring(fail.Keyring())

    code, text = _run(capsys, "--profile", profile, "sync")
    assert code == 2 and "secret" in text.lower()  # refused, as when nothing is configured

    code, text = _run(capsys, "--profile", profile, "sync", "--secrets-from-environment")
    assert code == 0, text
    assert secret not in text

    code, text = _run(capsys, "--profile", profile, "doctor", "--secrets-from-environment")
    assert "[OK ] Keychain" in text and "from the environment" in text
    assert "[OK ] Autotask" in text, text

    monkeypatch.delenv("PAYDESK_AUTOTASK_SECRET")
    code, text = _run(capsys, "--profile", profile, "sync", "--secrets-from-environment")
    assert code == 2  # the option alone gives nothing: the same refusal
