"""A QuickBooks Online payment posting survives SIGKILL at each step of its delivery: the
process dies just before the Payment is created, or just after QuickBooks created it (before
PayDesk could record it). The next delivery attempt looks the Payment up first; the sandbox
ends with exactly one Payment either way."""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from app.core.config import Profile
from app.core.credentials import CredentialStore
from app.core.posting.channels import ClaimedPosting
from app.core.quickbooks.online.channel import QuickBooksOnlineDeliverer
from app.core.quickbooks.online.read import read_quickbooks_online
from app.core.quickbooks.online.setup import open_quickbooks_client
from app.core.storage.engine import open_database
from app.sandbox.quickbooks_online.server import QuickBooksOnlineSandbox
from tests.integration.file_keyring import FileKeyring
from tests.integration.quickbooks_online.qbo_support import (
    client_for,
    count_payments,
    invoice_balance_minor,
    open_invoices,
    paydesk_balance,
    postings,
    record_payment,
    sandboxes,
    store_connection,
    sync_autotask,
)

_FORK = multiprocessing.get_context("fork")


def _use_file_keyring(keyring_file: Path) -> None:
    os.environ["PAYDESK_TEST_KEYRING_FILE"] = str(keyring_file)
    keyring.set_keyring(FileKeyring())  # type: ignore[no-untyped-call]


def _claimed(engine: object, attempts: int) -> ClaimedPosting:
    (posting,) = postings(engine)  # type: ignore[arg-type]
    return ClaimedPosting(id=posting.id, channel=posting.channel, target=posting.target,
                          key=posting.key, payload=posting.payload, attempts=attempts,
                          payment_id=posting.payment_id)


def _deliver_child(profile_folder: Path, keyring_file: Path, crash_at: str) -> None:
    _use_file_keyring(keyring_file)
    profile = Profile.open(profile_folder)
    engine = open_database(profile.database_url)

    def checkpoint(step: str) -> None:
        if step == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

    with contextlib.redirect_stdout(io.StringIO()):
        client = open_quickbooks_client(engine, CredentialStore(profile.key))
        assert client is not None
        QuickBooksOnlineDeliverer(engine, client, checkpoint).deliver(_claimed(engine, 1))
    os._exit(0)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Profile, Path, QuickBooksOnlineSandbox]]:
    keyring_file = tmp_path / "keyring.json"
    _use_file_keyring(keyring_file)
    profile = Profile.open(tmp_path / "profile")
    engine = open_database(profile.database_url)
    credentials = CredentialStore(profile.key)
    with sandboxes() as (autotask, quickbooks):
        sync_autotask(engine, autotask)
        store_connection(engine, credentials, quickbooks)
        with client_for(engine, credentials) as client:
            read_quickbooks_online(engine, client)
        engine.dispose()
        yield profile, keyring_file, quickbooks


@pytest.mark.parametrize("crash_at", ["quickbooks_online.before_create",
                                      "quickbooks_online.after_create"])
def test_killed_while_posting_a_payment_still_posts_it_exactly_once(
        world: tuple[Profile, Path, QuickBooksOnlineSandbox], crash_at: str) -> None:
    profile, keyring_file, quickbooks = world
    engine = open_database(profile.database_url)
    credentials = CredentialStore(profile.key)
    (invoice,) = open_invoices(engine, 1)
    record_payment(engine, [(invoice.id, invoice.balance_minor)])
    before = count_payments(quickbooks)

    child = _FORK.Process(target=_deliver_child, args=(profile.folder, keyring_file, crash_at))
    child.start()
    child.join(60)
    assert child.exitcode == -signal.SIGKILL
    created_before_the_kill = count_payments(quickbooks) - before
    assert created_before_the_kill == (1 if crash_at.endswith("after_create") else 0)

    # The next attempt (a new process, as after a restart): look it up, then deliver.
    client = open_quickbooks_client(engine, credentials)
    assert client is not None
    with client:
        deliverer = QuickBooksOnlineDeliverer(engine, client)
        claimed = _claimed(engine, 2)
        found = deliverer.find_existing(claimed)
        assert (found is not None) == bool(created_before_the_kill)
        remote = found or deliverer.deliver(claimed)
    assert count_payments(quickbooks) == before + 1
    record = quickbooks.record("Payment", remote)
    assert record is not None
    qb_invoice = str(record["Line"][0]["LinkedTxn"][0]["TxnId"])
    assert invoice_balance_minor(quickbooks, qb_invoice) == paydesk_balance(engine, invoice.id)
    engine.dispose()
