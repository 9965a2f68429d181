"""The COM request processor's twin: ``QBXMLRP2.RequestProcessor``'s five methods over a
:class:`~.company.CompanyFile` (the same file the Web Connector stand-in serves)."""

from __future__ import annotations

import secrets

from app.sandbox.quickbooks_desktop.company import CompanyFile

__all__ = ["RequestProcessorTwin"]


class RequestProcessorTwin:
    def __init__(self, company: CompanyFile, *, busy: bool = False) -> None:
        self.company = company
        self.busy = busy
        self.calls: list[str] = []
        self._ticket: str | None = None
        self._open = False

    def OpenConnection2(self, app_id: str, app_name: str, conn_type: int) -> None:
        self.calls.append("OpenConnection2")
        self._open = True

    def BeginSession(self, company_file: str, mode: int) -> str:
        self.calls.append("BeginSession")
        if not self._open:
            raise RuntimeError("OpenConnection2 was not called")
        self._ticket = "{" + secrets.token_hex(8) + "}"
        return self._ticket

    def ProcessRequest(self, ticket: str, request: str) -> str:
        self.calls.append("ProcessRequest")
        if ticket != self._ticket:
            raise RuntimeError("The ticket parameter is invalid")
        if self.busy:
            raise RuntimeError("0x8004040A: QuickBooks is busy")
        return self.company.process(request)

    def EndSession(self, ticket: str) -> None:
        self.calls.append("EndSession")
        self._ticket = None
        self.company.end_session()

    def CloseConnection(self) -> None:
        self.calls.append("CloseConnection")
        self._open = False
