"""One conversation with a QuickBooks Desktop company file, whatever carries it.

The Web Connector (:mod:`.service`) and the COM request processor (:mod:`.com`) both move qbXML
text back and forth; this class decides what to ask and what the answers mean. It is a plain
state machine — :meth:`CompanyFileSession.next_request` gives the next qbXML message (or
``None`` when there is nothing left to do), :meth:`CompanyFileSession.take_response` reads the
answer and says how far along the session is (0–100) — so each transport stays a thin loop.

A session runs, in order:

1. **Which QuickBooks** (``HostQuery``, or the Web Connector's first answer, which already
   holds it): the qbXML version is negotiated from what the host supports.
2. **Which company** (``CompanyQuery`` + ``PreferencesQuery``): its home currency must be
   PayDesk's internal currency, or nothing is read or posted. Then its Payment Method list
   (``PaymentMethodQuery``, names only), kept for Settings › Posting.
3. **Reads**: customers, then invoices, with iterators, from the last complete read's
   watermark (``TimeModified``). Each page is stored as it arrives. The watermark advances only
   when an iterator has run to its end, so a session cut mid-iterator starts that read again
   from the same watermark at the next session: pages are read again (storing is idempotent),
   never skipped. Then QuickBooks invoices are matched with PayDesk's (:mod:`.books`).
4. **Postings**: due postings of the ``quickbooks_desktop`` channel are claimed one at a time.
   A payment whose earlier attempt's outcome is unknown (``tried_before``) is first looked up by
   its reference (``ReceivePaymentQuery``); only when QuickBooks has none is it added. Each is
   acknowledged with QuickBooks' ``TxnID``, or reported as waiting/failed with a message.

If the conversation ends before an answer to an add or change came back
(:meth:`CompanyFileSession.abandon`), the posting is reported for retry; its next attempt looks
the reference up first, so QuickBooks holds exactly one ReceivePayment per payment.

Threads: one session is used by one thread at a time (the transport serialises calls).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Engine

from app.core.clock import utcnow
from app.core.config import get_internal_currency, get_setting, set_setting
from app.core.money import Money
from app.core.posting.channels import (
    ClaimedPosting,
    PostingError,
    PostingErrorKind,
    PostingWaiting,
)
from app.core.quickbooks.books import MatchReport
from app.core.quickbooks.desktop import books, qbxml
from app.core.quickbooks.desktop.channel import (
    CHANNEL_NAME,
    PAYMENT_TARGET,
)
from app.core.quickbooks.desktop.postings import OutboxQueue, PostingQueue
from app.core.quickbooks.desktop.qbxml import QbxmlError, RequestMessage, Response
from app.core.quickbooks.payment_methods import (
    load_desktop_methods,
    store_desktop_method_list,
)
from app.core.storage.engine import session_scope

__all__ = ["READ_WATERMARK_SETTING", "CompanyFileSession", "SessionOutcome"]

log = logging.getLogger(__name__)

#: Setting: {"customers": iso-time | None, "invoices": iso-time | None} — where the next read
#: of each list starts (the newest TimeModified of the last complete read).
READ_WATERMARK_SETTING = "quickbooks_desktop.read_watermark"
#: The qbXML version of the very first HostQuery (every QuickBooks Desktop speaks 1.0).
HOST_QUERY_VERSION = "1.0"
MAX_POSTINGS_PER_SESSION = 500

Phase = Literal["host", "company", "payment_methods", "customers", "invoices", "postings",
                "done"]


@dataclass
class SessionOutcome:
    """What a session did (for the status line and the tests)."""

    company_name: str | None = None
    qbxml_version: str | None = None
    customers_read: int = 0
    invoices_read: int = 0
    round_trips: int = 0
    posted: int = 0
    waiting: int = 0
    failed: int = 0
    matched: MatchReport | None = None
    #: How long the matching pass took (seconds), when it ran.
    match_seconds: float | None = None
    error: str | None = None


@dataclass
class _Read:
    list_name: Literal["customers", "invoices"]
    started_from: datetime | None = None
    iterator_id: str | None = None
    newest: datetime | None = None
    done: int = 0
    remaining: int | None = None


@dataclass
class _PostingWork:
    posting: ClaimedPosting
    step: Literal["lookup", "add", "change"] = "lookup"
    extra: dict[str, Any] = field(default_factory=dict)


class CompanyFileSession:
    """See the module docstring. ``queue`` defaults to the outbox's pull functions."""

    def __init__(
        self,
        engine: Engine,
        *,
        queue: PostingQueue | None = None,
        page_size: int = 500,
        clock: Callable[[], datetime] = utcnow,
        on_progress: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.queue: PostingQueue = queue or OutboxQueue(clock)
        self.page_size = page_size
        self.clock = clock
        self.outcome = SessionOutcome()
        self._on_progress = on_progress
        self._phase: Phase = "host"
        self._version: str | None = None
        self._country: str | None = None
        self._currency = get_internal_currency(engine)
        self._read: _Read | None = None
        self._work: _PostingWork | None = None
        self._sent_unanswered = False
        self._claims = 0
        self._next: str | None = None
        self._prepared = False

    # --- the transport's side -----------------------------------------------------------------
    @property
    def error(self) -> str | None:
        return self.outcome.error

    @property
    def qbxml_version(self) -> str | None:
        return self._version

    def start(self, hcp_response: str | None = None, *, country: str | None = None) -> None:
        """Begin. ``hcp_response`` is the Web Connector's first answer (HostQuery,
        CompanyQuery and PreferencesQuery of the open company file), which saves asking."""
        self._country = country
        if hcp_response:
            try:
                responses = {r.name: r for r in qbxml.parse_response(hcp_response)}
                host = responses.get("HostQueryRs")
                company = responses.get("CompanyQueryRs")
                if host is not None and company is not None:
                    self._take_host(host)
                    self._take_company(company, responses.get("PreferencesQueryRs"))
            except QbxmlError as exc:
                self._fail(exc.message)
        self._prepare()

    def next_request(self) -> str | None:
        """The next qbXML message, or ``None`` when the session is done (or failed)."""
        if self._sent_unanswered:
            # Asked again before the last answer came: never send an add twice blindly.
            self.abandon("PayDesk was asked for more work before QuickBooks answered")
            return None
        if not self._prepared:
            self._prepare()
        self._prepared = False
        message = self._next
        self._next = None
        if message is not None:
            self._sent_unanswered = True
            self.outcome.round_trips += 1
        return message

    def take_response(self, xml: str) -> int:
        """Read the answer to the last message; returns the percent done (100: finished),
        or -1 when the session cannot go on (:attr:`error` says why)."""
        self._sent_unanswered = False
        try:
            responses = qbxml.parse_response(xml)
            self._dispatch(responses)
        except QbxmlError as exc:
            if self._work is not None:
                self._settle_error(exc)
            else:
                self._fail(exc.message)
        except Exception as exc:  # a bug must not leave a posting claimed forever
            log.exception("QuickBooks Desktop session: unexpected failure")
            if self._work is not None:
                self._settle(PostingError(
                    PostingErrorKind.RETRY,
                    f"PayDesk could not read QuickBooks' answer ({type(exc).__name__}). It will "
                    "try again; if this keeps happening, send the log to support."))
            self._fail("PayDesk could not read QuickBooks' answer. It will try again at the "
                       "next Web Connector update; if this keeps happening, send the log "
                       "to support.")
        self._prepare()
        if self.outcome.error:
            return -1
        return 100 if self._next is None else self._percent()

    def abandon(self, reason: str) -> None:
        """The conversation ended (connection error, a new session, closeConnection) before
        the last message was answered. A posting in flight is reported for a retry that will
        look it up in QuickBooks first."""
        work = self._work
        self._work = None
        self._next = None
        self._prepared = True
        self._phase = "done"
        if work is not None:
            self.queue.report_failure(self.engine, work.posting.id, PostingError(
                PostingErrorKind.RETRY,
                f"The connection to QuickBooks ended before it answered ({reason}). PayDesk "
                "will look for this payment in QuickBooks before sending it again."))

    # --- deciding what to ask -------------------------------------------------------------------
    def _prepare(self) -> None:
        self._prepared = True
        self._next = None
        if self.outcome.error or self._phase == "done":
            return
        if self._phase == "host":
            self._next = RequestMessage(HOST_QUERY_VERSION, (qbxml.host_query(),)).to_xml()
            return
        assert self._version is not None
        if self._phase == "company":
            self._next = self._message(qbxml.company_query(), qbxml.preferences_query())
            return
        if self._phase == "payment_methods":
            self._next = self._message(qbxml.payment_method_query())
            return
        if self._phase in ("customers", "invoices"):
            self._next = self._read_request()
            return
        if self._phase == "postings":
            self._next = self._posting_request()

    def _message(self, *requests: Any) -> str:
        assert self._version is not None
        return RequestMessage(self._version, tuple(requests)).to_xml()

    def _percent(self) -> int:
        if self._phase in ("host", "company", "payment_methods"):
            return 2
        if self._phase in ("customers", "invoices") and self._read is not None:
            low, high = (5, 20) if self._phase == "customers" else (20, 80)
            remaining = self._read.remaining
            if remaining is None:
                return low
            done = self._read.done
            return low + (high - low) * done // max(1, done + remaining)
        if self._phase == "postings":
            return min(99, 80 + self._claims)
        return 99

    def _progress(self, text: str) -> None:
        if self._on_progress is not None:
            self._on_progress(text)

    # --- host and company ---------------------------------------------------------------------
    def _dispatch(self, responses: list[Response]) -> None:
        by_name = {r.name: r for r in responses}
        if self._phase == "host":
            host = by_name.get("HostQueryRs")
            if host is None:
                raise qbxml.QbxmlParseError("QuickBooks did not say which version it is.")
            self._take_host(host)
        elif self._phase == "company":
            company = by_name.get("CompanyQueryRs")
            if company is None:
                raise qbxml.QbxmlParseError("QuickBooks did not say which company file is open.")
            self._take_company(company, by_name.get("PreferencesQueryRs"))
        elif self._phase == "payment_methods":
            self._take_payment_methods(by_name.get("PaymentMethodQueryRs"))
        elif self._phase in ("customers", "invoices"):
            self._take_page(responses[0] if responses else None)
        elif self._phase == "postings" and self._work is not None:
            self._take_posting_answer(responses[0] if responses else None)

    def _take_host(self, host: Response) -> None:
        info = qbxml.parse_host(host)
        self._version = qbxml.negotiate_version(info.supported_versions)
        self._country = self._country or info.country
        self.outcome.qbxml_version = self._version
        self._phase = "company"

    def _take_company(self, company: Response, preferences: Response | None) -> None:
        info = qbxml.parse_company(company, preferences, self._country)
        self.outcome.company_name = info.company_name
        if self._currency is None:
            raise qbxml.QbxmlCurrencyError(
                "PayDesk's internal currency is not set yet. Finish Setup in PayDesk, then run "
                "the Web Connector again.")
        if info.home_currency is None:
            raise qbxml.QbxmlCurrencyError(
                f"PayDesk could not tell which currency the company file “{info.company_name}” "
                f"keeps its books in, so it will not post to it. Check Edit > Preferences > "
                "Multiple Currencies in QuickBooks.")
        if info.home_currency != self._currency:
            raise qbxml.QbxmlCurrencyError(
                f"The company file “{info.company_name}” keeps its books in "
                f"{info.home_currency}, but PayDesk's internal currency is {self._currency}. "
                "PayDesk will not read from or post to it. Open the company file that belongs "
                "to this PayDesk in the Web Connector.")
        self._phase = "payment_methods"
        self._read = None

    def _take_payment_methods(self, rs: Response | None) -> None:
        """Keep the Payment Method list's names for Settings › Posting. A list QuickBooks
        would not give stops nothing: the names are then typed without it."""
        self._phase = "customers"
        try:
            if rs is None:
                raise qbxml.QbxmlParseError("QuickBooks did not send its Payment Method list.")
            names = qbxml.parse_payment_methods(rs)
        except QbxmlError as exc:
            log.warning("QuickBooks Desktop: payment methods not read: %s", exc.message)
            return
        store_desktop_method_list(self.engine, names, self.clock())

    def _fail(self, message: str) -> None:
        self.outcome.error = message
        self._phase = "done"

    # --- reads ---------------------------------------------------------------------------------
    def _watermarks(self) -> dict[str, str | None]:
        value = get_setting(self.engine, READ_WATERMARK_SETTING, None)
        return dict(value) if isinstance(value, Mapping) else {}

    def _read_request(self) -> str:
        list_name: Literal["customers", "invoices"] = (
            "customers" if self._phase == "customers" else "invoices")
        if self._read is None:
            mark = self._watermarks().get(list_name)
            self._read = _Read(list_name, datetime.fromisoformat(mark) if mark else None)
            self._progress(f"Reading QuickBooks {list_name}…")
        read = self._read
        iterator: qbxml.Iterator = "Continue" if read.iterator_id else "Start"
        build = qbxml.customer_query if list_name == "customers" else qbxml.invoice_query
        return self._message(build(
            f"{list_name}-{read.done}", iterator=iterator, iterator_id=read.iterator_id,
            max_returned=self.page_size, from_modified=read.started_from))

    def _take_page(self, rs: Response | None) -> None:
        read = self._read
        if rs is None or read is None:
            raise qbxml.QbxmlParseError(
                "QuickBooks' answer did not hold the page PayDesk asked for.")
        assert self._currency is not None
        rows: list[Any]
        now = self.clock()
        if read.list_name == "customers":
            rows = qbxml.parse_customers(rs)
            with session_scope(self.engine) as s:
                books.store_customers(s, rows, currency=self._currency, now=now)
            self.outcome.customers_read += len(rows)
        else:
            rows = qbxml.parse_invoices(rs)
            with session_scope(self.engine) as s:
                books.store_invoices(s, rows, currency=self._currency, now=now)
            self.outcome.invoices_read += len(rows)
        for row in rows:
            if row.time_modified is not None and (read.newest is None
                                                  or row.time_modified > read.newest):
                read.newest = row.time_modified
        read.done += len(rows)
        read.remaining = rs.remaining if rs.remaining is not None else 0
        read.iterator_id = rs.iterator_id or read.iterator_id
        if read.remaining > 0:
            if not rows:  # never advance the watermark past a page that did not come
                raise qbxml.QbxmlParseError(
                    "QuickBooks said more records were waiting but sent none. PayDesk will "
                    "read again from where its last complete read ended.")
            return
        # The iterator ran to its end: the next read starts from the newest change seen.
        marks = self._watermarks()
        if read.newest is not None:
            marks[read.list_name] = read.newest.isoformat()
        set_setting(self.engine, READ_WATERMARK_SETTING, marks, actor="QuickBooks Web Connector",
                    audit=False)
        self._read = None
        if read.list_name == "customers":
            self._phase = "invoices"
        else:
            assert self._currency is not None
            started = time.perf_counter()
            self.outcome.matched = books.match_invoices(self.engine, currency=self._currency)
            self.outcome.match_seconds = time.perf_counter() - started
            self._phase = "postings"

    # --- postings ------------------------------------------------------------------------------
    def _posting_request(self) -> str | None:
        while True:
            if self._work is None:
                if self._claims >= MAX_POSTINGS_PER_SESSION:
                    self._phase = "done"
                    return None
                claimed = self.queue.claim_due(self.engine, CHANNEL_NAME, 1)
                if not claimed:
                    self._phase = "done"
                    return None
                self._claims += 1
                posting = claimed[0]
                first = not posting.tried_before and posting.target == PAYMENT_TARGET
                self._work = _PostingWork(posting, step="add" if first else "lookup")
            work = self._work
            try:
                message = self._posting_message(work)
            except PostingWaiting as waiting:
                self._settle(waiting)
                continue
            except QbxmlError as exc:
                self._settle_error(exc)
                continue
            except (KeyError, ValueError, TypeError) as exc:
                self._settle(PostingError(
                    PostingErrorKind.PERMANENT,
                    f"PayDesk cannot post this to QuickBooks: its record is incomplete "
                    f"({type(exc).__name__}). Record it in QuickBooks by hand, then dismiss it."))
                continue
            if message is None:
                continue  # settled without asking QuickBooks
            return message

    def _posting_message(self, work: _PostingWork) -> str | None:
        payload = work.posting.payload
        reference = str(payload["reference"])
        if work.step == "lookup":
            return self._message(qbxml.receive_payment_query("lookup", reference))
        if work.step == "add":
            return self._message(self._payment_add(work.posting))
        return self._message(self._payment_change(work))

    def _matches(self, allocations: list[Mapping[str, Any]]) -> dict[int, books.MatchedInvoice]:
        ids = [int(a["invoice_id"]) for a in allocations]
        with session_scope(self.engine) as s:
            found = books.matched_invoices(s, ids)
        missing = [str(a.get("invoice_number") or a["invoice_id"]) for a in allocations
                   if int(a["invoice_id"]) not in found]
        if missing:
            which = ", ".join(missing)
            raise PostingWaiting(
                f"Invoice {which} is not in QuickBooks Desktop yet (or not matched). It will "
                "post after the invoice is exported to QuickBooks and the Web Connector runs "
                "again — or match it by hand.", retry_after=timedelta(minutes=5))
        return found

    def _payment_add(self, posting: ClaimedPosting) -> Any:
        payload = posting.payload
        currency = str(payload["currency"])
        allocations = list(payload["allocations"])
        found = self._matches(allocations)
        customers = {found[int(a["invoice_id"])].customer_list_id for a in allocations}
        if len(customers) != 1:
            names = ", ".join(sorted({m.customer_name for m in found.values()}))
            raise qbxml.QbxmlError(
                f"The invoices of this payment belong to different customers in QuickBooks "
                f"({names}). Record it in QuickBooks by hand, then dismiss it here.")
        applied = [qbxml.PaymentApplication(
            found[int(a["invoice_id"])].txn_id,
            Money(int(a["amount_minor"]), currency).to_decimal()) for a in allocations]
        return qbxml.receive_payment_add(
            "add", customer_list_id=customers.pop(),
            txn_date=date.fromisoformat(str(payload["txn_date"])),
            ref_number=str(payload["reference"]),
            total=Money(int(payload["total_minor"]), currency).to_decimal(),
            memo=str(payload.get("memo") or ""), applied=applied,
            payment_method=load_desktop_methods(self.engine).for_type(
                str(payload.get("method_type") or "card")) or None)

    def _payment_change(self, work: _PostingWork) -> Any:
        payload = work.posting.payload
        currency = str(payload["currency"])
        current: qbxml.ReceivePaymentRow = work.extra["payment"]
        allocations = list(payload["allocations"])
        found = self._matches(allocations)
        applied = {a.txn_id: a.amount for a in current.applied}
        total = current.total
        for a in allocations:
            txn_id = found[int(a["invoice_id"])].txn_id
            delta = Money(int(a["amount_minor"]), currency).to_decimal()
            new = applied.get(txn_id, Decimal("0.00")) + delta
            if new < 0:
                raise qbxml.QbxmlError(
                    f"QuickBooks shows less of payment {payload['reference']} on invoice "
                    f"{a.get('invoice_number') or a['invoice_id']} than PayDesk is taking "
                    "back. Someone changed the payment in QuickBooks; correct it there by hand, "
                    "then dismiss this posting.")
            applied[txn_id] = new
            total += delta
        memo = f"{current.memo or ''} [{payload['token']}]".strip()
        return qbxml.receive_payment_mod(
            "change", txn_id=current.txn_id, edit_sequence=current.edit_sequence,
            total=total, memo=memo,
            applied=[qbxml.PaymentApplication(t, a) for t, a in applied.items()])

    def _take_posting_answer(self, rs: Response | None) -> None:
        work = self._work
        assert work is not None
        if rs is None:
            raise qbxml.QbxmlParseError("QuickBooks' answer did not say what happened.")
        reference = str(work.posting.payload["reference"])
        if work.step == "lookup":
            found = qbxml.parse_receive_payments(rs)
            exact = [p for p in found if p.ref_number == reference]
            if work.posting.target == PAYMENT_TARGET:
                if exact:
                    self._acknowledge(exact[0].txn_id)  # an earlier attempt got there
                else:
                    work.step = "add"
                return
            if not exact:
                self._settle(PostingWaiting(
                    f"Payment {reference} is not in QuickBooks Desktop yet; this change will "
                    "follow it.", retry_after=timedelta(minutes=5)))
                return
            token = f"[{work.posting.payload['token']}]"
            if token in (exact[0].memo or ""):
                self._acknowledge(exact[0].txn_id)  # this change is already there
                return
            work.step = "change"
            work.extra["payment"] = exact[0]
            return
        if work.step == "add":
            self._acknowledge(qbxml.parse_added_txn_id(rs, request=f"payment {reference}"))
            return
        rs.raise_for_status(request=f"the change to payment {reference}")
        change = work.extra["payment"]
        self._acknowledge(change.txn_id)

    def _acknowledge(self, txn_id: str) -> None:
        work = self._work
        assert work is not None
        self._work = None
        self.queue.acknowledge(self.engine, work.posting.id, txn_id)
        self.outcome.posted += 1

    def _settle(self, error: PostingError | PostingWaiting) -> None:
        work = self._work
        self._work = None
        if work is None:
            return
        self.queue.report_failure(self.engine, work.posting.id, error)
        if isinstance(error, PostingWaiting):
            self.outcome.waiting += 1
        else:
            self.outcome.failed += 1

    def _settle_error(self, exc: QbxmlError) -> None:
        kind = (PostingErrorKind.RETRY if exc.retry else PostingErrorKind.NEEDS_PERSON
                if exc.needs_person else PostingErrorKind.PERMANENT)
        self._settle(PostingError(kind, exc.message))
