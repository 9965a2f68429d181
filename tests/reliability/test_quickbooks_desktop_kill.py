"""Kill test: PayDesk's Web Connector service (``paydesk qbwc serve``, its own process) is
killed with SIGKILL right after QuickBooks applied a payment and before the answer reached
PayDesk. After the claim's lease runs out, a new service process looks the payment up by its
reference and acknowledges it: QuickBooks holds exactly one ReceivePayment."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import select, update

from app.core.clock import utcnow
from app.core.config import Profile, set_internal_currency
from app.core.quickbooks.desktop.qwc import connect
from app.core.storage.engine import open_database, session_scope
from app.core.storage.models import Posting
from app.sandbox.quickbooks_desktop.company import CompanyFile
from app.sandbox.quickbooks_desktop.connector import WebConnector
from tests.integration.quickbooks_desktop.support import (
    SIZES,
    Ledger,
    ManualClock,
    mirror_autotask,
)

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serving(folder: Path, env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--profile", str(folder), "qbwc", "serve", "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"listening at (\S+)\.", line)
        assert found is not None, line
        yield process, found.group(1)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


@pytest.mark.slow
def test_the_service_killed_after_quickbooks_applied_a_payment_posts_it_once(
        tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    engine = open_database(Profile.open(folder).database_url)
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="tests.integration.file_keyring.FileKeyring",
               PAYDESK_TEST_KEYRING_FILE=str(tmp_path / "keyring.json"))
    password = "kill test password"
    subprocess.run([sys.executable, "-c",
                    "from app.core.credentials import CredentialStore, SecretName;"
                    "from app.core.config import Profile;import sys;"
                    "CredentialStore(Profile.open(__import__('pathlib').Path(sys.argv[1])).key)"
                    ".set(SecretName.QUICKBOOKS_DESKTOP_PASSWORD, sys.argv[2])",
                    str(folder), password], cwd=ROOT, env=env, check=True)
    set_internal_currency(engine, "USD", actor="test")
    company = CompanyFile(seed=11, sizes=SIZES)
    mirror_autotask(engine, company)
    connection = connect(engine, app_url="http://localhost:8765/qbwc")
    desk = Ledger(engine, company, ManualClock(utcnow()))

    with serving(folder, env) as (_server, url):
        WebConnector(url, connection.username, password, company).update()  # read, match
    (invoice,) = desk.open_invoices(1)
    payment = desk.pay([(invoice, 4321)])

    with serving(folder, env) as (server, url):
        applied = company.process

        def process_then_kill(request: str) -> str:
            answer = applied(request)
            if "<ReceivePaymentAddRq" in request:
                server.send_signal(signal.SIGKILL)  # QuickBooks has it; PayDesk never hears
                server.wait(timeout=30)
            return answer

        company.process = process_then_kill  # type: ignore[method-assign]
        with pytest.raises(requests.exceptions.ConnectionError):
            WebConnector(url, connection.username, password, company).update()
        company.process = applied  # type: ignore[method-assign]
    assert server.returncode == -signal.SIGKILL
    assert len(company.payments_with_ref(payment.reference)) == 1
    (posting,) = desk.postings()
    assert posting.state == "delivering"

    # Time passes: the dead process's lease on the posting runs out.
    with session_scope(engine) as s:
        s.execute(update(Posting).where(Posting.id == posting.id)
                  .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    with serving(folder, env) as (_server, url):
        WebConnector(url, connection.username, password, company).update()
    with session_scope(engine) as s:
        state, remote_id = s.execute(select(Posting.state, Posting.remote_id)
                                     .where(Posting.id == posting.id)).one()
    (only,) = company.payments_with_ref(payment.reference)
    assert (state, remote_id) == ("delivered", only["TxnID"])
