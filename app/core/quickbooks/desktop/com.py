"""QuickBooks Desktop on this Windows PC, through its COM request processor.

When QuickBooks runs on the same PC as PayDesk, ``QBXMLRP2.RequestProcessor`` (installed with
QuickBooks, reached through pywin32) carries the same qbXML as the Web Connector:
``OpenConnection2`` → ``BeginSession`` → ``ProcessRequest`` … → ``EndSession`` →
``CloseConnection``. :class:`ComTransport` drives one :class:`~.session.CompanyFileSession`
with it. pywin32 is imported only on Windows, when no other processor is given.

Threads: blocks until the session ends; run on a worker thread (COM needs it initialised on
that thread, which :func:`default_processor` does).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Protocol

from app.core.quickbooks.desktop.session import CompanyFileSession, SessionOutcome

__all__ = ["ComTransport", "RequestProcessor", "default_processor"]

LOCAL_QBD = 1  # ctLocalQBD
OPEN_DO_NOT_CARE = 2  # omDontCare: use the file open in QuickBooks, in its mode


class RequestProcessor(Protocol):
    def OpenConnection2(self, app_id: str, app_name: str, conn_type: int) -> None: ...
    def BeginSession(self, company_file: str, mode: int) -> str: ...
    def ProcessRequest(self, ticket: str, request: str) -> str: ...
    def EndSession(self, ticket: str) -> None: ...
    def CloseConnection(self) -> None: ...


def default_processor() -> RequestProcessor:
    """QuickBooks' own request processor (Windows with QuickBooks installed only)."""
    platform: str = sys.platform  # a plain str, so mypy checks the Windows branch too
    if not platform.startswith("win"):
        raise RuntimeError("QuickBooks Desktop's request processor exists only on Windows. "
                           "Use the Web Connector instead.")
    import pythoncom  # type: ignore[import-not-found,unused-ignore]
    import win32com.client  # type: ignore[import-not-found,unused-ignore]

    pythoncom.CoInitialize()
    processor: RequestProcessor = win32com.client.Dispatch("QBXMLRP2.RequestProcessor")
    return processor


class ComTransport:
    """Runs sessions over the COM request processor."""

    def __init__(self, processor: Callable[[], RequestProcessor] = default_processor, *,
                 company_file: str = "", app_name: str = "PayDesk") -> None:
        self._processor = processor
        self.company_file = company_file
        self.app_name = app_name

    def run(self, session: CompanyFileSession) -> SessionOutcome:
        """One session: host and company checks, reads, postings. Errors end up in
        ``outcome.error`` in plain words."""
        try:
            rp = self._processor()
            rp.OpenConnection2("", self.app_name, LOCAL_QBD)
        except Exception as exc:
            session.outcome.error = (
                "PayDesk could not reach QuickBooks on this PC. Open QuickBooks with the "
                f"company file, then try again. ({type(exc).__name__}: {exc})")
            return session.outcome
        ticket: str | None = None
        try:
            ticket = rp.BeginSession(self.company_file, OPEN_DO_NOT_CARE)
            session.start(None)
            while (request := session.next_request()) is not None:
                try:
                    response = rp.ProcessRequest(ticket, request)
                except Exception as exc:
                    session.abandon(f"QuickBooks reported {exc}")
                    session.outcome.error = (
                        "QuickBooks could not process PayDesk's request (it may be busy with "
                        f"a window open). PayDesk will try again. ({exc})")
                    break
                percent = session.take_response(response)
                if percent < 0 or percent >= 100:
                    break
        except Exception as exc:
            session.abandon(str(exc))
            session.outcome.error = (
                "QuickBooks did not open the company file for PayDesk. Open it in QuickBooks "
                f"and allow PayDesk in Edit > Preferences > Integrated Applications. ({exc})")
        finally:
            if ticket is not None:
                _quietly(rp.EndSession, ticket)
            _quietly(rp.CloseConnection)
        return session.outcome


def _quietly(call: Callable[..., Any], *args: Any) -> None:
    try:
        call(*args)
    except Exception:  # closing a connection QuickBooks already dropped is harmless
        return
