"""The commands end to end, each its own process: ``paydesk setup quickbooks-desktop`` (and
``paydesk qbwc qwc``) writes the .qwc and
keeps the password in the keychain, ``paydesk qbwc serve`` runs the service, and
``paydesk sandbox quickbooks-desktop --once`` makes one Web Connector update against it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from lxml import etree

from app.core.config import Profile, set_internal_currency
from app.core.quickbooks.desktop.service import read_status
from app.core.storage.engine import open_database


def test_write_the_qwc_serve_and_let_the_web_connector_update(tmp_path: Path) -> None:
    folder = tmp_path / "profile"
    engine = open_database(Profile.open(folder).database_url)
    set_internal_currency(engine, "USD", actor="test")
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="tests.integration.file_keyring.FileKeyring",
               PAYDESK_TEST_KEYRING_FILE=str(tmp_path / "keyring.json"))
    paydesk = [sys.executable, "-m", "app", "--profile", str(folder)]
    qwc = tmp_path / "PayDesk.qwc"

    wrote = subprocess.run([*paydesk, "setup", "quickbooks-desktop", str(qwc)],
                           capture_output=True, text=True, timeout=60, env=env)
    assert wrote.returncode == 0, wrote.stderr
    password = re.search(r"enter this password there: (\S+)", wrote.stdout)
    assert password is not None
    assert etree.parse(str(qwc)).getroot().findtext("AppURL") == "http://localhost:8765/qbwc"

    refused = subprocess.run([*paydesk, "qbwc", "qwc", str(qwc), "--url",
                              "http://books.msp.example/qbwc"], capture_output=True, text=True,
                             timeout=60, env=env)
    assert refused.returncode == 2 and "https://" in refused.stdout

    server = subprocess.Popen([*paydesk, "qbwc", "serve", "--port", "0"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        url = re.search(r"listening at (\S+)\.", line)
        assert url is not None, line + (server.stderr.read() if server.poll() else "")
        update = subprocess.run(
            [*paydesk, "sandbox", "quickbooks-desktop", "--app-url", url.group(1), "--qwc",
             str(qwc), "--companies", "10", "--invoices", "60", "--once"],
            capture_output=True, text=True, timeout=120,
            env=dict(env, PAYDESK_QBWC_PASSWORD=password.group(1)))
        assert update.returncode == 0, update.stdout + update.stderr
        assert "PayDesk read" in update.stdout
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert server.returncode == 0
    assert read_status(engine).state == "stopped"
    assert read_status(engine).last_exchange_at is not None
