"""The COM transport against the request processor's twin (same company file), the .qwc file
and its stable ids, and the service over HTTPS with a given certificate."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import trustme
from lxml import etree
from sqlalchemy import Engine

from app.core.credentials import CredentialStore, SecretName
from app.core.quickbooks.desktop.com import ComTransport
from app.core.quickbooks.desktop.qwc import connect, ensure_password, write_qwc
from app.core.quickbooks.desktop.service import (
    WebConnectorServer,
    WebConnectorService,
    start_service,
)
from app.core.quickbooks.desktop.session import CompanyFileSession
from app.sandbox.quickbooks_desktop.com import RequestProcessorTwin
from tests.integration.quickbooks_desktop.support import open_desk


def test_the_com_transport_reads_and_posts_exactly_once(sqlite_engine: Engine) -> None:
    with open_desk(sqlite_engine) as desk:
        twin = RequestProcessorTwin(desk.company)
        transport = ComTransport(lambda: twin)
        outcome = transport.run(CompanyFileSession(desk.engine, queue=desk.queue,
                                                   clock=desk.clock, page_size=50))
        assert outcome.error is None and outcome.invoices_read == len(desk.company.invoices)
        assert "HostQueryRq" in desk.company.requests_seen  # asked itself: no Web Connector
        (a,) = desk.open_invoices(1)
        payment = desk.pay([(a, 4200)])

        busy = RequestProcessorTwin(desk.company, busy=True)
        outcome = ComTransport(lambda: busy).run(CompanyFileSession(
            desk.engine, queue=desk.queue, clock=desk.clock))
        assert "could not process" in (outcome.error or "")
        assert busy.calls[-2:] == ["EndSession", "CloseConnection"]

        outcome = transport.run(CompanyFileSession(desk.engine, queue=desk.queue,
                                                   clock=desk.clock))
        assert outcome.posted == 1
        assert len(desk.company.payments_with_ref(payment.reference)) == 1
        assert twin.calls[:2] == ["OpenConnection2", "BeginSession"]
        assert twin.calls[-2:] == ["EndSession", "CloseConnection"]


def test_the_qwc_file_keeps_its_ids_and_the_password_stays_in_the_keychain(
        sqlite_engine: Engine, tmp_path: Path) -> None:
    credentials = CredentialStore("qbd-test")
    first = connect(sqlite_engine, app_url="http://localhost:8765/qbwc")
    again = connect(sqlite_engine, app_url="https://paydesk.msp.example:8765/qbwc",
                    run_every_minutes=30, certfile="/certs/paydesk.pem",
                    keyfile="/certs/paydesk.key")
    assert (first.owner_id, first.file_id, first.username) == (
        again.owner_id, again.file_id, again.username)
    path = write_qwc(tmp_path / "paydesk", again)
    root = etree.parse(str(path)).getroot()
    assert path.suffix == ".qwc"
    assert root.findtext("AppURL") == "https://paydesk.msp.example:8765/qbwc"
    assert root.findtext("OwnerID") == first.owner_id
    assert root.findtext("Scheduler/RunEveryNMinutes") == "30"
    assert root.findtext("IsReadOnly") == "false"
    password = ensure_password(credentials)
    assert ensure_password(credentials) == password
    assert credentials.get(SecretName.QUICKBOOKS_DESKTOP_PASSWORD) == password
    assert password not in path.read_text()
    with pytest.raises(ValueError, match="https://"):
        connect(sqlite_engine, app_url="http://paydesk.msp.example/qbwc")
    with pytest.raises(ValueError, match="certificate and its key"):
        connect(sqlite_engine, app_url="https://paydesk.msp.example/qbwc")


def test_the_service_serves_https_with_a_given_certificate(sqlite_engine: Engine,
                                                           tmp_path: Path) -> None:
    authority = trustme.CA()
    cert = authority.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file, ca_file = (tmp_path / n for n in ("c.pem", "k.pem", "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    authority.cert_pem.write_to_path(str(ca_file))
    connect(sqlite_engine, app_url="https://localhost:8443/qbwc", certfile=str(cert_file),
            keyfile=str(key_file))
    server = start_service(sqlite_engine, CredentialStore("tls-test"), host="127.0.0.1",
                           port=0)
    try:
        assert server.url.startswith("https://")
        answer = requests.get(server.url + "?wsdl", verify=str(ca_file), timeout=(5, 5))
        assert b"http://developer.intuit.com/authenticate" in answer.content
        assert server.url in answer.text
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(server.url + "?wsdl", timeout=(5, 5))  # not trusted without the CA
    finally:
        server.stop()
    service = WebConnectorService(sqlite_engine, username="u", password=lambda: "p")
    with pytest.raises(ValueError, match="certificate"):
        WebConnectorServer(service, host="0.0.0.0")  # noqa: S104 - the refusal is the test
