"""The service on the wire: the envelopes the Web Connector itself sends (default namespace,
quoted SOAPAction), its answers' shape, faults, and zeep reading the WSDL unchanged."""

from __future__ import annotations

import requests
import zeep
from lxml import etree
from sqlalchemy import Engine

from tests.integration.quickbooks_desktop.support import PASSWORD, USER, open_desk

NS = {"soap": "http://schemas.xmlsoap.org/soap/envelope/", "wc": "http://developer.intuit.com/"}


def _post(url: str, method: str, body: str, action: str | None = None) -> requests.Response:
    envelope = (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
        'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>'
        f'<{method} xmlns="http://developer.intuit.com/">{body}</{method}>'
        '</soap:Body></soap:Envelope>')
    return requests.post(url, data=envelope.encode(), timeout=(5, 30), headers={
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": action if action is not None else f'"http://developer.intuit.com/{method}"',
    })


def test_the_web_connectors_own_envelopes_get_the_answers_it_expects(
        sqlite_engine: Engine) -> None:
    with open_desk(sqlite_engine) as desk:
        url = desk.server.url
        answer = _post(url, "serverVersion", "")
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("text/xml")
        doc = etree.fromstring(answer.content)
        assert doc.findtext("soap:Body/wc:serverVersionResponse/wc:serverVersionResult",
                            namespaces=NS).startswith("PayDesk")

        answer = _post(url, "authenticate", f"<strUserName>{USER}</strUserName>"
                       f"<strPassword>{PASSWORD}</strPassword>")
        result = etree.fromstring(answer.content).find(
            "soap:Body/wc:authenticateResponse/wc:authenticateResult", NS)
        assert result is not None
        ticket, company = [s.text or "" for s in result.findall("wc:string", NS)]
        assert len(ticket) == 32 and company == ""

        hcp = desk.company.hcp_response()
        body = etree.Element("x")
        for name, value in [("ticket", ticket), ("strHCPResponse", hcp),
                            ("strCompanyFileName", desk.company.file_path),
                            ("qbXMLCountry", "US"), ("qbXMLMajorVers", "13"),
                            ("qbXMLMinorVers", "0")]:
            etree.SubElement(body, name).text = value
        inner = "".join(etree.tostring(c, encoding="unicode") for c in body)
        answer = _post(url, "sendRequestXML", inner)
        request = etree.fromstring(answer.content).findtext(
            "soap:Body/wc:sendRequestXMLResponse/wc:sendRequestXMLResult", namespaces=NS)
        assert request is not None and '<?qbxml version="13.0"?>' in request
        # The host and company came with the HCP answer: next is the Payment Method list.
        assert "<HostQueryRq" not in request and "<CompanyQueryRq" not in request
        assert "<PaymentMethodQueryRq" in request

        qb_answer = desk.company.process(request)
        inner = (f"<ticket>{ticket}</ticket><response>"
                 + qb_answer.replace("&", "&amp;").replace("<", "&lt;")
                 + "</response><hresult/><message/>")
        answer = _post(url, "receiveResponseXML", inner)
        percent = etree.fromstring(answer.content).findtext(
            "soap:Body/wc:receiveResponseXMLResponse/wc:receiveResponseXMLResult",
            namespaces=NS)
        assert percent is not None and 0 <= int(percent) <= 100

        answer = _post(url, "closeConnection", f"<ticket>{ticket}</ticket>")
        assert answer.status_code == 200


def test_unknown_methods_and_mismatched_actions_are_soap_faults(sqlite_engine: Engine) -> None:
    with open_desk(sqlite_engine) as desk:
        answer = _post(desk.server.url, "dropTables", "")
        assert answer.status_code == 500
        assert b"Fault" in answer.content and b"no method" in answer.content
        answer = _post(desk.server.url, "serverVersion", "",
                       action='"http://developer.intuit.com/authenticate"')
        assert answer.status_code == 500
        answer = _post(desk.server.url, "getLastError", "<ticket>not-a-ticket</ticket>")
        assert answer.status_code == 200


def test_zeep_reads_the_wsdl_and_calls_the_service_unchanged(sqlite_engine: Engine) -> None:
    with open_desk(sqlite_engine) as desk:
        client = zeep.Client(desk.server.url + "?wsdl")
        assert client.service.serverVersion().startswith("PayDesk")
        assert client.service.clientVersion("2.3.0.215") in ("", None)
        # An empty element reads as None in zeep, as "" in the Web Connector (.NET).
        assert [s or "" for s in client.service.authenticate(USER, "wrong")] == ["", "nvu"]
        ticket, company = client.service.authenticate(USER, PASSWORD)
        assert ticket and company in ("", None)
        assert client.service.connectionError(ticket, "0x80040408", "closed") == "done"
        assert "could not open QuickBooks" in client.service.getLastError(ticket)
        assert client.service.closeConnection(ticket)
