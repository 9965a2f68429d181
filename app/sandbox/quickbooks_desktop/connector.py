"""The QuickBooks Web Connector's side, played against PayDesk's service over real HTTP SOAP.

:class:`WebConnector` makes one scheduled update the way the Web Connector does —
``serverVersion``, ``clientVersion``, ``authenticate``, then ``sendRequestXML`` (the first one
carrying the host, company and preferences answers) / ``receiveResponseXML`` until PayDesk says
100 or a negative number, ``getLastError`` on errors, ``connectionError`` when QuickBooks cannot
be reached, and ``closeConnection`` — with zeep, a published SOAP client, reading the service's
own WSDL. The requests go to a :class:`~.company.CompanyFile`.

Fault switches (:class:`Faults`): QuickBooks closed (``connectionError``), QuickBooks busy (the
request fails with an HRESULT), a payment's answer lost after QuickBooks applied it, the Web
Connector killed right after QuickBooks applied a payment, and the session cut after a number
of list pages (mid-iterator).

Threads: one update at a time per connector.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import requests
import zeep
import zeep.transports

from app.sandbox.quickbooks_desktop.company import CompanyFile

__all__ = ["Faults", "UpdateResult", "WebConnector"]

log = logging.getLogger(__name__)

WEB_CONNECTOR_VERSION = "2.3.0.215"
QB_CLOSED = "0x80040408"  # Could not start QuickBooks.
QB_BUSY = "0x8004040A"  # QuickBooks is busy (a modal dialog is open).


@dataclass
class Faults:
    qb_closed: bool = False
    qb_busy: bool = False
    #: The next ReceivePayment answer is lost after QuickBooks applied it (connectionError).
    lose_next_payment_answer: bool = False
    #: The Web Connector dies right after QuickBooks applied the next ReceivePayment.
    kill_after_next_payment: bool = False
    #: The session is cut (Web Connector killed) after this many list pages.
    cut_after_pages: int | None = None


@dataclass
class UpdateResult:
    calls: list[str] = field(default_factory=list)
    authenticate: list[str] = field(default_factory=list)
    percents: list[int] = field(default_factory=list)
    last_error: str | None = None
    closed_with: str | None = None
    killed: bool = False

    @property
    def round_trips(self) -> int:
        return self.calls.count("receiveResponseXML")


class WebConnector:
    """One Web Connector configured with PayDesk's ``.qwc`` (its AppURL, user and password)."""

    def __init__(self, app_url: str, username: str, password: str, company: CompanyFile,
                 *, faults: Faults | None = None, verify: bool | str = True,
                 timeout: float = 60.0) -> None:
        self.app_url = app_url
        self.username = username
        self._password = password
        self.company = company
        self.faults = faults or Faults()
        session = requests.Session()
        session.verify = verify
        transport = zeep.transports.Transport(  # type: ignore[no-untyped-call]
            session=session, timeout=timeout, operation_timeout=timeout)
        settings = zeep.Settings(strict=True, xml_huge_tree=True)
        self.client = zeep.Client(  # type: ignore[no-untyped-call]
            app_url + "?wsdl", transport=transport, settings=settings)
        self.service: Any = self.client.create_service(  # type: ignore[no-untyped-call]
            "{http://developer.intuit.com/}QBWebConnectorSvcSoap", app_url)

    def _call(self, result: UpdateResult, name: str, *args: Any) -> Any:
        result.calls.append(name)
        return getattr(self.service, name)(*args)

    def update(self) -> UpdateResult:
        """One scheduled update (what "Update Selected" does in the Web Connector)."""
        result = UpdateResult()
        faults = self.faults
        try:
            self._call(result, "serverVersion")
            self._call(result, "clientVersion", WEB_CONNECTOR_VERSION)
            answer = self._call(result, "authenticate", self.username, self._password)
            auth = list(answer or [])
            result.authenticate = [a or "" for a in auth]
            ticket = result.authenticate[0] if result.authenticate else ""
            status = result.authenticate[1] if len(result.authenticate) > 1 else ""
            if status == "nvu" or not ticket:
                result.last_error = "The user name or password was not accepted."
                return result
            if status == "none":
                result.closed_with = self._call(result, "closeConnection", ticket)
                return result
            if faults.qb_closed:
                self._call(result, "connectionError", ticket, QB_CLOSED,
                           "Could not start QuickBooks.")
                result.last_error = self._call(result, "getLastError", ticket)
                result.closed_with = self._call(result, "closeConnection", ticket)
                return result
            self._exchange(result, ticket)
            return result
        finally:
            self.company.end_session()

    def _exchange(self, result: UpdateResult, ticket: str) -> None:
        faults = self.faults
        hcp = self.company.hcp_response()
        first = True
        pages = 0
        while True:
            request = self._call(result, "sendRequestXML", ticket, hcp if first else "",
                                 self.company.file_path, self.company.country, 13, 0)
            first = False
            if not request:
                result.last_error = self._call(result, "getLastError", ticket)
                result.closed_with = self._call(result, "closeConnection", ticket)
                return
            if faults.qb_busy:
                percent = self._call(result, "receiveResponseXML", ticket, "", QB_BUSY,
                                     "QuickBooks is busy: a window is open in QuickBooks.")
                result.percents.append(percent)
                result.last_error = self._call(result, "getLastError", ticket)
                result.closed_with = self._call(result, "closeConnection", ticket)
                return
            try:
                response = self.company.process(request)
            except ValueError as exc:
                percent = self._call(result, "receiveResponseXML", ticket, "", "0x80040400",
                                     str(exc))
                result.percents.append(percent)
                result.last_error = self._call(result, "getLastError", ticket)
                result.closed_with = self._call(result, "closeConnection", ticket)
                return
            is_payment = "<ReceivePaymentAddRq" in request
            if is_payment and faults.kill_after_next_payment:
                faults.kill_after_next_payment = False
                result.killed = True
                return  # the Web Connector died: nothing more reaches PayDesk
            if is_payment and faults.lose_next_payment_answer:
                faults.lose_next_payment_answer = False
                self._call(result, "connectionError", ticket, "0x80072EE2",
                           "The operation timed out.")
                result.closed_with = self._call(result, "closeConnection", ticket)
                return
            if "<CustomerQueryRq" in request or "<InvoiceQueryRq" in request:
                pages += 1
                if faults.cut_after_pages is not None and pages > faults.cut_after_pages:
                    faults.cut_after_pages = None
                    result.killed = True
                    return
            percent = int(self._call(result, "receiveResponseXML", ticket, response, "", ""))
            result.percents.append(percent)
            if percent < 0:
                result.last_error = self._call(result, "getLastError", ticket)
                result.closed_with = self._call(result, "closeConnection", ticket)
                return
            if percent >= 100:
                result.closed_with = self._call(result, "closeConnection", ticket)
                return
