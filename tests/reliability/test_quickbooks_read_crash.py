"""The first QuickBooks read survives SIGKILL mid-way: each page is stored with the position to
resume from, so the next read starts there — no page read twice, none missed."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import keyring
from sqlalchemy import func, select

from app.core.config import Profile
from app.core.credentials import CredentialStore
from app.core.quickbooks.books import SOURCE_ONLINE
from app.core.quickbooks.online.read import read_quickbooks_online
from app.core.quickbooks.online.setup import open_quickbooks_client
from app.core.storage.engine import open_database, session_scope
from app.core.storage.models import QuickBooksInvoice, QuickBooksSyncState
from tests.integration.file_keyring import FileKeyring
from tests.integration.quickbooks_online.qbo_support import (
    count_rows,
    sandboxes,
    store_connection,
    sync_autotask,
)

_FORK = multiprocessing.get_context("fork")
PAGE = 100


def _use_file_keyring(keyring_file: Path) -> None:
    os.environ["PAYDESK_TEST_KEYRING_FILE"] = str(keyring_file)
    keyring.set_keyring(FileKeyring())  # type: ignore[no-untyped-call]


def _read_child(profile_folder: Path, keyring_file: Path) -> None:
    _use_file_keyring(keyring_file)
    profile = Profile.open(profile_folder)
    engine = open_database(profile.database_url)

    def die_after_three_invoice_pages(entity: str, count: int) -> None:
        if entity == "Invoice" and count >= 3 * PAGE:
            os.kill(os.getpid(), signal.SIGKILL)

    client = open_quickbooks_client(engine, CredentialStore(profile.key))
    assert client is not None
    read_quickbooks_online(engine, client, page_size=PAGE,
                           on_progress=die_after_three_invoice_pages)
    os._exit(0)


def test_a_killed_first_read_resumes_where_it_stood(tmp_path: Path) -> None:
    keyring_file = tmp_path / "keyring.json"
    _use_file_keyring(keyring_file)
    profile = Profile.open(tmp_path / "profile")
    engine = open_database(profile.database_url)
    credentials = CredentialStore(profile.key)
    with sandboxes() as (autotask, quickbooks):
        sync_autotask(engine, autotask)
        store_connection(engine, credentials, quickbooks)
        child = _FORK.Process(target=_read_child, args=(profile.folder, keyring_file))
        child.start()
        child.join(120)
        assert child.exitcode == -signal.SIGKILL
        with session_scope(engine) as s:
            state = s.get(QuickBooksSyncState, (SOURCE_ONLINE, "Invoice"))
            assert state is not None and state.phase == "full"
            assert state.next_position == 3 * PAGE + 1
            stored = s.scalar(select(func.count()).select_from(QuickBooksInvoice))
        assert stored == 3 * PAGE

        total = len(quickbooks.store.ids("Invoice"))
        client = open_quickbooks_client(engine, credentials)
        assert client is not None
        with client:
            result = read_quickbooks_online(engine, client, page_size=PAGE)
            # The invoice pages left (the last one short) and one CDC for the customers.
            assert client.request_count == (total - 3 * PAGE) // PAGE + 1 + 1
        assert result.read["Invoice"] == total - 3 * PAGE
        assert count_rows(engine, QuickBooksInvoice) == total
        assert result.match is not None and result.match.by_number > 0
    engine.dispose()
