"""QuickBooks Online refresh tokens rotate. A PayDesk killed between Intuit's answer and the
keychain write (or right after the write) must never be left holding only a dead token: the
next start still connects. The sandbox rotates like Intuit: a new refresh token on every
refresh; the one it replaces keeps working only until its successor has been used."""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from app.core.config import Profile, set_internal_currency
from app.core.credentials import CredentialStore, SecretName
from app.core.quickbooks.online.errors import QuickBooksDisconnectedError
from app.core.quickbooks.online.read import quickbooks_sync_hook
from app.core.quickbooks.online.setup import open_quickbooks_client, quickbooks_status
from app.core.storage.engine import open_database
from app.sandbox.quickbooks_online.server import QuickBooksOnlineSandbox
from tests.integration.file_keyring import FileKeyring
from tests.integration.quickbooks_online.qbo_support import store_connection

_FORK = multiprocessing.get_context("fork")
SIZES = {"companies": 2, "contacts": 2, "contracts": 1, "tickets": 1, "invoices": 4,
         "lines_per_invoice": 1.0}


def _use_file_keyring(keyring_file: Path) -> None:
    os.environ["PAYDESK_TEST_KEYRING_FILE"] = str(keyring_file)
    keyring.set_keyring(FileKeyring())  # type: ignore[no-untyped-call]


def _child_main(keyring_file: Path, argv: list[str]) -> None:
    _use_file_keyring(keyring_file)
    from tests.reliability import quickbooks_token_child

    with contextlib.redirect_stdout(io.StringIO()):
        code = quickbooks_token_child.main(argv)
    os._exit(code)


class TokenWorld:
    def __init__(self, folder: Path, keyring_file: Path, sandbox: QuickBooksOnlineSandbox
                 ) -> None:
        self.folder = folder
        self.keyring_file = keyring_file
        self.sandbox = sandbox
        self.profile = Profile.open(folder)
        self.credentials = CredentialStore(self.profile.key)

    def child(self, crash_at: str = "") -> int | None:
        process = self.start_child(crash_at)
        process.join(60)
        return process.exitcode

    def start_child(self, crash_at: str = "", refreshes: int = 1
                    ) -> multiprocessing.process.BaseProcess:
        process = _FORK.Process(target=_child_main, args=(
            self.keyring_file, ["--profile", str(self.folder), "--crash-at", crash_at,
                                "--refreshes", str(refreshes)]))
        process.start()
        return process

    def stored(self) -> tuple[str | None, str | None]:
        return (self.credentials.get(SecretName.QUICKBOOKS_REFRESH_TOKEN),
                self.credentials.get(SecretName.QUICKBOOKS_REFRESH_TOKEN_PREVIOUS))

    def connects(self) -> bool:
        engine = open_database(self.profile.database_url)
        try:
            client = open_quickbooks_client(engine, self.credentials)
            assert client is not None
            with client:
                return bool(client.company_info().get("CompanyName"))
        finally:
            engine.dispose()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[TokenWorld]:
    keyring_file = tmp_path / "keyring.json"
    _use_file_keyring(keyring_file)
    with QuickBooksOnlineSandbox(**SIZES) as sandbox:
        result = TokenWorld(tmp_path / "profile", keyring_file, sandbox)
        engine = open_database(result.profile.database_url)
        set_internal_currency(engine, "USD")
        store_connection(engine, result.credentials, sandbox)
        engine.dispose()
        yield result


def test_killed_after_the_refresh_answer_before_saving(world: TokenWorld) -> None:
    first, _ = world.stored()
    assert world.child("quickbooks.tokens.after_refresh") == -signal.SIGKILL
    # Intuit issued a new refresh token the keychain never saw …
    assert world.stored()[0] == first
    # … twice over: the kept token still works, and each use kills the unused one before.
    assert world.child("quickbooks.tokens.after_refresh") == -signal.SIGKILL
    assert world.connects()
    newest, previous = world.stored()
    assert newest != first and previous == first
    assert world.connects()  # and again, with the newest one


def test_killed_after_saving_before_using(world: TokenWorld) -> None:
    first, _ = world.stored()
    assert world.child("quickbooks.tokens.after_save") == -signal.SIGKILL
    newest, previous = world.stored()
    assert newest != first and previous == first  # written before anything used it
    assert world.connects()
    assert world.child() == 0  # a normal run after that
    assert world.connects()


def test_a_revoked_connection_says_reconnect(world: TokenWorld) -> None:
    world.sandbox.oauth.revoke_all()
    with pytest.raises(QuickBooksDisconnectedError) as caught:
        world.connects()
    assert caught.value.message == "QuickBooks disconnected — Reconnect in Setup."
    # The background read keeps the status bar's sentence.
    engine = open_database(world.profile.database_url)
    quickbooks_sync_hook(world.credentials)(engine, threading.Event())
    status = quickbooks_status(engine, world.credentials)
    assert status.connected and status.last_read_ok is False
    assert status.problem == "QuickBooks disconnected — Reconnect in Setup."
    engine.dispose()


def test_two_processes_refreshing_together_never_lose_the_connection(world: TokenWorld) -> None:
    """The window and a scheduled sync on one profile: their refreshes take turns."""
    children = [world.start_child(refreshes=8) for _ in range(3)]
    for child in children:
        child.join(120)
    assert [child.exitcode for child in children] == [0, 0, 0]
    assert world.connects()
