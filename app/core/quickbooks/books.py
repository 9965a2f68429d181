"""QuickBooks' customers and invoices in the local database, and the match to Autotask's.

Shared by QuickBooks Online and (later) QuickBooks Desktop: every row carries its ``source``
(``online`` | ``desktop``); nothing here talks to a network.

**Matching** (:func:`match_invoices`) decides, for every Autotask invoice, which QuickBooks
invoice it is — the one Autotask's export to QuickBooks created:

1. **By number**: the QuickBooks invoice whose ``DocNumber`` is the Autotask invoice number
   (what the export writes). Exactly one → matched ``by_number``.
2. **By customer, date and total**, when no QuickBooks invoice has the number: the customer's
   name as exported (the Autotask organization's name; compared ignoring case and repeated
   spaces), the invoice date and the total. Exactly one candidate that no other invoice
   claims → matched ``by_customer_date_total``.
3. Otherwise unmatched, with the reason stored ("Not in QuickBooks: …", "2
   QuickBooks invoices have number 1045: …"). Nothing ambiguous is ever guessed.

A person's decision (:func:`match_by_hand`, :func:`unmatch_by_hand`) is audited and
``by_hand``: automatic passes never change it. :func:`forget_hand_decision` hands the
invoice back to the automatic pass. Matches fill ``Invoice.qb_invoice_id`` and
``Invoice.qb_doc_number``.

Threads: every function blocks on the database; call them off the GUI thread.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.core.clock import utcnow
from app.core.config import current_actor
from app.core.money import Money
from app.core.search_text import LIKE_ESCAPE, clean_search, contains_pattern
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    AuditEntry,
    Invoice,
    Organization,
    QuickBooksCustomer,
    QuickBooksInvoice,
    QuickBooksInvoiceMatch,
)

__all__ = [
    "AUTOMATIC_ACTOR",
    "SOURCE_DESKTOP",
    "SOURCE_ONLINE",
    "CustomerRecord",
    "InvoiceRecord",
    "MatchInfo",
    "MatchMethod",
    "MatchReport",
    "QuickBooksInvoiceRow",
    "UnmatchedInvoice",
    "delete_customers",
    "delete_invoices",
    "find_quickbooks_invoices",
    "forget_hand_decision",
    "match_by_hand",
    "match_for",
    "match_invoices",
    "needs_matching",
    "normalize_name",
    "unmatch_by_hand",
    "unmatched_count",
    "upsert_customers",
    "upsert_invoices",
]

SOURCE_ONLINE = "online"
SOURCE_DESKTOP = "desktop"
AUTOMATIC_ACTOR = "PayDesk (automatic match)"


class MatchMethod:
    BY_NUMBER = "by_number"
    BY_CUSTOMER_DATE_TOTAL = "by_customer_date_total"
    BY_HAND = "by_hand"


# --- storing what QuickBooks holds ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    remote_id: str
    display_name: str
    company_name: str | None = None
    currency: str | None = None
    balance_minor: int = 0
    is_active: bool = True
    sync_token: str | None = None
    last_updated: datetime | None = None


@dataclass(frozen=True, slots=True)
class InvoiceRecord:
    remote_id: str
    doc_number: str | None
    customer_id: str | None
    customer_name: str | None
    txn_date: date | None
    due_date: date | None
    total_minor: int
    balance_minor: int
    currency: str | None
    sync_token: str | None = None
    last_updated: datetime | None = None


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def upsert_customers(session: Session, source: str, records: Sequence[CustomerRecord],
                     now: datetime) -> int:
    """Insert or update; returns how many rows changed."""
    ids = [r.remote_id for r in records]
    existing: dict[str, QuickBooksCustomer] = {}
    for chunk in _chunks(ids):
        for row in session.scalars(select(QuickBooksCustomer).where(
                QuickBooksCustomer.source == source, QuickBooksCustomer.remote_id.in_(chunk))):
            existing[row.remote_id] = row
    for r in records:
        found = existing.get(r.remote_id)
        if found is None:
            row = QuickBooksCustomer(source=source, remote_id=r.remote_id)
            session.add(row)
        else:
            row = found
        row.display_name = r.display_name
        row.company_name = r.company_name
        row.currency = r.currency
        row.balance_minor = r.balance_minor
        row.is_active = r.is_active
        row.sync_token = r.sync_token
        row.last_updated = r.last_updated
        row.read_at = now
    return len(records)


def upsert_invoices(session: Session, source: str, records: Sequence[InvoiceRecord],
                    now: datetime) -> int:
    ids = [r.remote_id for r in records]
    existing: dict[str, QuickBooksInvoice] = {}
    for chunk in _chunks(ids):
        for row in session.scalars(select(QuickBooksInvoice).where(
                QuickBooksInvoice.source == source, QuickBooksInvoice.remote_id.in_(chunk))):
            existing[row.remote_id] = row
    new_rows: list[dict[str, object]] = []
    for r in records:
        found = existing.get(r.remote_id)
        values: dict[str, object] = {
            "doc_number": r.doc_number, "customer_id": r.customer_id,
            "customer_name": r.customer_name, "txn_date": r.txn_date, "due_date": r.due_date,
            "total_minor": r.total_minor, "balance_minor": r.balance_minor,
            "currency": r.currency, "sync_token": r.sync_token,
            "last_updated": r.last_updated, "read_at": now,
        }
        if found is None:
            new_rows.append({"source": source, "remote_id": r.remote_id, **values})
        else:
            for key, value in values.items():
                setattr(found, key, value)
    if new_rows:
        session.execute(insert(QuickBooksInvoice), new_rows)
    return len(records)


def delete_invoices(session: Session, source: str, remote_ids: Sequence[str]) -> None:
    for chunk in _chunks(list(remote_ids)):
        session.execute(delete(QuickBooksInvoice).where(
            QuickBooksInvoice.source == source, QuickBooksInvoice.remote_id.in_(chunk)))


def delete_customers(session: Session, source: str, remote_ids: Sequence[str]) -> None:
    for chunk in _chunks(list(remote_ids)):
        session.execute(delete(QuickBooksCustomer).where(
            QuickBooksCustomer.source == source, QuickBooksCustomer.remote_id.in_(chunk)))


# --- matching ---------------------------------------------------------------------------------


class _Batch:
    """Rows for one statement, sent with executemany every ``size`` rows."""

    def __init__(self, session: Session, statement: Any, size: int = 5000) -> None:
        self.session = session
        self.statement = statement
        self.size = size
        self.rows: list[dict[str, object]] = []

    def add(self, row: dict[str, object]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.size:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.session.execute(self.statement, self.rows)
            self.rows = []

_SPACES = re.compile(r"\s+")


def normalize_name(name: str | None) -> str:
    """Names as exported compare equal ignoring case and runs of spaces."""
    return _SPACES.sub(" ", (name or "").strip()).casefold()


@dataclass(frozen=True, slots=True)
class _Decision:
    remote_id: str | None
    method: str | None
    reason: str | None
    code: str | None = None


@dataclass(slots=True)
class MatchReport:
    by_number: int = 0
    by_customer_date_total: int = 0
    by_hand: int = 0
    unmatched: int = 0
    changed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def matched(self) -> int:
        return self.by_number + self.by_customer_date_total + self.by_hand


def _fmt_money(minor: int, currency: str) -> str:
    try:
        return Money(minor, currency).format()
    except ValueError:
        return str(minor)


def match_invoices(engine: Engine, source: str, *, currency: str,
                   now: datetime | None = None) -> MatchReport:
    """The automatic pass over every Autotask invoice (see the module docstring). Writes only
    what changed; never touches a by-hand decision."""
    now = now or utcnow()
    report = MatchReport()
    with session_scope(engine) as session:
        by_number: dict[str, list[str]] = defaultdict(list)
        by_key: dict[tuple[str, date | None, int], list[str]] = defaultdict(list)
        doc_of: dict[str, str | None] = {}
        wrong_currency: set[str] = set()
        for rid, doc, cname, txn, total, cur in session.execute(select(
                QuickBooksInvoice.remote_id, QuickBooksInvoice.doc_number,
                QuickBooksInvoice.customer_name, QuickBooksInvoice.txn_date,
                QuickBooksInvoice.total_minor, QuickBooksInvoice.currency,
        ).where(QuickBooksInvoice.source == source)):
            doc_of[rid] = doc
            if cur and cur != currency:
                wrong_currency.add(rid)
            if doc:
                by_number[doc.strip()].append(rid)
            by_key[(normalize_name(cname), txn, int(total))].append(rid)

        existing: dict[int, tuple[str | None, str | None, str | None, bool]] = {}
        for inv_id, m_rid, method, reason, hand in session.execute(select(
                QuickBooksInvoiceMatch.invoice_id, QuickBooksInvoiceMatch.remote_id,
                QuickBooksInvoiceMatch.method, QuickBooksInvoiceMatch.reason,
                QuickBooksInvoiceMatch.by_hand,
        ).where(QuickBooksInvoiceMatch.source == source)):
            existing[int(inv_id)] = (m_rid, method, reason, bool(hand))
        # (the reason text carries the code's meaning; a changed reason rewrites both)
        claimed_by_hand = {rid for rid, _m, _r, hand in existing.values() if hand and rid}

        org_names = dict(session.execute(select(Organization.id, Organization.name)).all())
        invoices = session.execute(select(
            Invoice.id, Invoice.invoice_number, Invoice.organization_id, Invoice.invoice_date,
            Invoice.total_minor, Invoice.is_voided, Invoice.qb_invoice_id,
            Invoice.qb_doc_number,
        )).all()
        stale: list[int] = []

        decisions: dict[int, _Decision] = {}
        second_pass: list[tuple[int, tuple[str, date | None, int], str, str]] = []
        number_claims: dict[str, list[int]] = defaultdict(list)
        for inv_id, number, org_id, inv_date, total, voided, _qid, _qdoc in invoices:
            inv_id = int(inv_id)
            if existing.get(inv_id, (None, None, None, False))[3]:
                continue  # a person decided
            num = (number or "").strip()
            hits = [r for r in by_number.get(num, []) if r not in claimed_by_hand] if num else []
            if voided and not hits:
                # Voided before export: nothing to match, nothing to list.
                if inv_id in existing:
                    stale.append(inv_id)
                continue
            if len(hits) == 1 and hits[0] in wrong_currency:
                decisions[inv_id] = _Decision(None, None, (
                    f"QuickBooks invoice {num} is in another currency than {currency}."),
                    "currency")
                continue
            if len(hits) == 1:
                decisions[inv_id] = _Decision(hits[0], MatchMethod.BY_NUMBER, None)
                number_claims[hits[0]].append(inv_id)
                continue
            if len(hits) > 1:
                decisions[inv_id] = _Decision(None, None, (
                    f"{len(hits)} QuickBooks invoices have number {num}; match it by hand."),
                    "ambiguous")
                continue
            org_name = str(org_names.get(org_id) or "")
            key = (normalize_name(org_name), inv_date, int(total))
            second_pass.append((inv_id, key, org_name, num))
            decisions[inv_id] = _Decision(None, None, None)  # filled below
        # Two Autotask invoices with the same number on one QuickBooks invoice: neither.
        for rid, inv_ids in number_claims.items():
            if len(inv_ids) > 1:
                for inv_id in inv_ids:
                    decisions[inv_id] = _Decision(None, None, (
                        f"{len(inv_ids)} Autotask invoices carry QuickBooks invoice "
                        f"{doc_of.get(rid) or rid}'s number; match it by hand."), "ambiguous")
        used = claimed_by_hand | {d.remote_id for d in decisions.values() if d.remote_id}
        candidate_claims: dict[str, list[int]] = defaultdict(list)
        for inv_id, key, org_name, num in second_pass:
            candidates = [r for r in by_key.get(key, []) if r not in used
                          and r not in wrong_currency]
            total_text = _fmt_money(key[2], currency)
            when = key[1].isoformat() if key[1] else "no date"
            if len(candidates) == 1:
                decisions[inv_id] = _Decision(candidates[0], MatchMethod.BY_CUSTOMER_DATE_TOTAL,
                                              None)
                candidate_claims[candidates[0]].append(inv_id)
            elif len(candidates) > 1:
                numbers = ", ".join(sorted(doc_of.get(r) or r for r in candidates)[:5])
                decisions[inv_id] = _Decision(None, None, (
                    f"{len(candidates)} QuickBooks invoices are for {org_name or 'this customer'} "
                    f"dated {when} for {total_text} ({numbers}); match it by hand."),
                    "ambiguous")
            else:
                label = f"number {num}" if num else "its number"
                decisions[inv_id] = _Decision(None, None, (
                    f"Not in QuickBooks: no QuickBooks invoice has {label}, and none is for "
                    f"{org_name or 'this customer'} dated {when} for {total_text}. Autotask "
                    "may not have exported it yet; if QuickBooks has it under another "
                    "number or customer, match it by hand."), "not_in_quickbooks")
        for rid, inv_ids in candidate_claims.items():
            if len(inv_ids) > 1:
                for inv_id in inv_ids:
                    decisions[inv_id] = _Decision(None, None, (
                        f"{len(inv_ids)} Autotask invoices fit QuickBooks invoice "
                        f"{doc_of.get(rid) or rid} by customer, date and total; match it by "
                        "hand."), "ambiguous")

        # Written in batches (executemany), so a first pass over 100,000 invoices neither
        # sends 100,000 statements one by one nor keeps them all in memory.
        matches = cast(Table, QuickBooksInvoiceMatch.__table__)
        invoices_table = cast(Table, Invoice.__table__)
        add_match = insert(matches)
        change_match = (
            matches.update()
            .where(matches.c.source == bindparam("b_source"),
                   matches.c.invoice_id == bindparam("b_invoice_id"))
            .values(remote_id=bindparam("b_remote_id"), method=bindparam("b_method"),
                    reason=bindparam("b_reason"), reason_code=bindparam("b_code"),
                    decided_at=bindparam("b_at"), decided_by=bindparam("b_by"))
        )
        set_invoice = (
            invoices_table.update().where(invoices_table.c.id == bindparam("b_id"))
            .values(qb_invoice_id=bindparam("b_remote_id"), qb_doc_number=bindparam("b_doc"))
        )
        inserts = _Batch(session, add_match)
        updates = _Batch(session, change_match)
        for inv_id, decision in decisions.items():
            if decision.method == MatchMethod.BY_NUMBER:
                report.by_number += 1
            elif decision.method == MatchMethod.BY_CUSTOMER_DATE_TOTAL:
                report.by_customer_date_total += 1
            else:
                report.unmatched += 1
                kind = decision.code or "unmatched"
                report.reasons[kind] = report.reasons.get(kind, 0) + 1
            old = existing.get(inv_id)
            if old is not None and (old[0], old[1], old[2]) == (
                    decision.remote_id, decision.method, decision.reason):
                continue
            report.changed += 1
            if old is None:
                inserts.add({
                    "source": source, "invoice_id": inv_id, "remote_id": decision.remote_id,
                    "method": decision.method, "by_hand": False, "reason": decision.reason,
                    "reason_code": decision.code, "decided_at": now,
                    "decided_by": AUTOMATIC_ACTOR,
                })
            else:
                updates.add({
                    "b_source": source, "b_invoice_id": inv_id, "b_remote_id": decision.remote_id,
                    "b_method": decision.method, "b_reason": decision.reason,
                    "b_code": decision.code, "b_at": now, "b_by": AUTOMATIC_ACTOR,
                })
        inserts.flush()
        updates.flush()
        for chunk in _chunks([str(i) for i in stale]):
            session.execute(delete(QuickBooksInvoiceMatch).where(
                QuickBooksInvoiceMatch.source == source,
                QuickBooksInvoiceMatch.invoice_id.in_([int(i) for i in chunk])))
            report.changed += len(chunk)
        report.by_hand = sum(1 for v in existing.values() if v[3] and v[0])
        report.unmatched += sum(1 for v in existing.values() if v[3] and not v[0])

        # Invoice.qb_invoice_id / qb_doc_number follow the matches.
        wanted: dict[int, str | None] = {
            inv_id: decision.remote_id for inv_id, decision in decisions.items()}
        for inv_id, (hand_rid, _m, _r, hand) in existing.items():
            if hand:
                wanted[inv_id] = hand_rid
        for inv_id in stale:
            wanted[inv_id] = None
        invoice_updates = _Batch(session, set_invoice)
        for row in invoices:
            inv_id = int(row[0])
            if inv_id not in wanted:
                continue
            target = wanted[inv_id]
            value = (target, doc_of.get(target) if target else None)
            if (row[6], row[7]) != value:
                invoice_updates.add({"b_id": inv_id, "b_remote_id": value[0],
                                     "b_doc": value[1]})
        invoice_updates.flush()
    return report


# --- a person's decisions ---------------------------------------------------------------------


def _audit(session: Session, actor: str, action: str, invoice_id: int,
           details: dict[str, object]) -> None:
    session.add(AuditEntry(at=utcnow(), actor=actor, action=action, subject_type="invoice",
                           subject_id=str(invoice_id), details=details))


def _set_match(session: Session, source: str, invoice_id: int, remote_id: str | None,
               method: str | None, by_hand: bool, reason: str | None, actor: str,
               code: str | None = None) -> None:
    row = session.get(QuickBooksInvoiceMatch, (source, invoice_id))
    if row is None:
        row = QuickBooksInvoiceMatch(source=source, invoice_id=invoice_id)
        session.add(row)
    row.remote_id = remote_id
    row.method = method
    row.by_hand = by_hand
    row.reason = reason
    row.reason_code = code
    row.decided_at = utcnow()
    row.decided_by = actor
    doc = None
    if remote_id:
        qb = session.get(QuickBooksInvoice, (source, remote_id))
        doc = qb.doc_number if qb is not None else None
    session.execute(update(Invoice).where(Invoice.id == invoice_id).values(
        qb_invoice_id=remote_id, qb_doc_number=doc))


def match_by_hand(engine: Engine, source: str, invoice_id: int, remote_id: str, *,
                  actor: str | None = None) -> None:
    """A person says this Autotask invoice is that QuickBooks invoice (audited; kept)."""
    actor = actor or current_actor()
    with session_scope(engine) as session:
        qb = session.get(QuickBooksInvoice, (source, remote_id))
        if qb is None:
            raise ValueError("That QuickBooks invoice is not in PayDesk's copy; sync first.")
        if session.get(Invoice, invoice_id) is None:
            raise ValueError(f"Autotask invoice {invoice_id} is not in PayDesk's copy.")
        other = session.scalar(select(QuickBooksInvoiceMatch.invoice_id).where(
            QuickBooksInvoiceMatch.source == source,
            QuickBooksInvoiceMatch.remote_id == remote_id,
            QuickBooksInvoiceMatch.invoice_id != invoice_id))
        if other is not None:
            # The QuickBooks invoice can stand for one Autotask invoice only.
            _set_match(session, source, int(other), None, None, False,
                       f"QuickBooks invoice {qb.doc_number or remote_id} was matched by hand "
                       "to another invoice.", actor, "ambiguous")
        previous = session.get(QuickBooksInvoiceMatch, (source, invoice_id))
        _audit(session, actor, "quickbooks.match_by_hand", invoice_id, {
            "source": source, "remote_id": remote_id, "doc_number": qb.doc_number,
            "previous_remote_id": previous.remote_id if previous else None,
            "previous_method": previous.method if previous else None,
        })
        _set_match(session, source, invoice_id, remote_id, MatchMethod.BY_HAND, True, None,
                   actor)


def unmatch_by_hand(engine: Engine, source: str, invoice_id: int, *,
                    actor: str | None = None, reason: str = "") -> None:
    """A person says this Autotask invoice has no QuickBooks invoice (or not the one found);
    automatic passes leave it unmatched."""
    actor = actor or current_actor()
    with session_scope(engine) as session:
        previous = session.get(QuickBooksInvoiceMatch, (source, invoice_id))
        _audit(session, actor, "quickbooks.unmatch_by_hand", invoice_id, {
            "source": source, "reason": reason,
            "previous_remote_id": previous.remote_id if previous else None,
            "previous_method": previous.method if previous else None,
        })
        _set_match(session, source, invoice_id, None, MatchMethod.BY_HAND, True,
                   reason or f"Unmatched by hand by {actor}.", actor, "by_hand")


def forget_hand_decision(engine: Engine, source: str, invoice_id: int, *,
                         actor: str | None = None) -> None:
    """Give the invoice back to the automatic pass (it decides at its next run)."""
    actor = actor or current_actor()
    with session_scope(engine) as session:
        row = session.get(QuickBooksInvoiceMatch, (source, invoice_id))
        if row is None or not row.by_hand:
            return
        _audit(session, actor, "quickbooks.match_automatic", invoice_id,
               {"source": source, "previous_remote_id": row.remote_id})
        session.delete(row)


# --- reading matches --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchInfo:
    invoice_id: int
    remote_id: str | None
    doc_number: str | None
    balance_minor: int | None
    method: str | None
    by_hand: bool
    reason: str | None
    decided_at: datetime
    decided_by: str


def match_for(engine: Engine, source: str, invoice_id: int) -> MatchInfo | None:
    with session_scope(engine) as session:
        row = session.get(QuickBooksInvoiceMatch, (source, invoice_id))
        if row is None:
            return None
        qb = session.get(QuickBooksInvoice, (source, row.remote_id)) if row.remote_id else None
        return MatchInfo(
            invoice_id=invoice_id, remote_id=row.remote_id,
            doc_number=qb.doc_number if qb else None,
            balance_minor=qb.balance_minor if qb else None, method=row.method,
            by_hand=row.by_hand, reason=row.reason, decided_at=row.decided_at,
            decided_by=row.decided_by)


@dataclass(frozen=True, slots=True)
class UnmatchedInvoice:
    invoice_id: int
    invoice_number: str | None
    organization_name: str | None
    invoice_date: date | None
    total_minor: int
    reason: str
    by_hand: bool


def needs_matching(engine: Engine, source: str, *, limit: int | None = None
                   ) -> list[UnmatchedInvoice]:
    """Autotask invoices without a QuickBooks invoice, with why (the Needs matching view)."""
    with session_scope(engine) as session:
        stmt = (
            select(Invoice.id, Invoice.invoice_number, Organization.name, Invoice.invoice_date,
                   Invoice.total_minor, QuickBooksInvoiceMatch.reason,
                   QuickBooksInvoiceMatch.by_hand)
            .join(QuickBooksInvoiceMatch, (QuickBooksInvoiceMatch.invoice_id == Invoice.id)
                  & (QuickBooksInvoiceMatch.source == source))
            .outerjoin(Organization, Organization.id == Invoice.organization_id)
            .where(QuickBooksInvoiceMatch.remote_id.is_(None))
            .order_by(Invoice.invoice_date.desc(), Invoice.id.desc())
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return [UnmatchedInvoice(int(i), n, o, d, int(t), r or "", bool(h))
                for i, n, o, d, t, r, h in session.execute(stmt)]


@dataclass(frozen=True, slots=True)
class QuickBooksInvoiceRow:
    """A QuickBooks invoice a person may pick when matching by hand."""

    remote_id: str
    doc_number: str | None
    customer_name: str | None
    txn_date: date | None
    total_minor: int
    balance_minor: int
    matched_invoice_id: int | None


def find_quickbooks_invoices(engine: Engine, source: str, *, text: str = "",
                             total_minor: int | None = None, limit: int = 50
                             ) -> list[QuickBooksInvoiceRow]:
    """QuickBooks invoices whose number or customer contains ``text`` (and, when given, with
    this total), newest first, each with the Autotask invoice it is matched to — the list the
    Needs matching view offers for a match by hand."""
    with session_scope(engine) as session:
        stmt = (
            select(QuickBooksInvoice.remote_id, QuickBooksInvoice.doc_number,
                   QuickBooksInvoice.customer_name, QuickBooksInvoice.txn_date,
                   QuickBooksInvoice.total_minor, QuickBooksInvoice.balance_minor,
                   QuickBooksInvoiceMatch.invoice_id)
            .outerjoin(QuickBooksInvoiceMatch,
                       (QuickBooksInvoiceMatch.source == QuickBooksInvoice.source)
                       & (QuickBooksInvoiceMatch.remote_id == QuickBooksInvoice.remote_id))
            .where(QuickBooksInvoice.source == source)
        )
        if clean_search(text):  # literal: % and _ match themselves, a NUL is dropped
            pattern = contains_pattern(text)
            stmt = stmt.where(
                func.lower(QuickBooksInvoice.doc_number).like(pattern, escape=LIKE_ESCAPE)
                | func.lower(QuickBooksInvoice.customer_name).like(pattern,
                                                                   escape=LIKE_ESCAPE))
        if total_minor is not None:
            stmt = stmt.where(QuickBooksInvoice.total_minor == total_minor)
        stmt = stmt.order_by(QuickBooksInvoice.txn_date.desc(),
                             QuickBooksInvoice.remote_id).limit(limit)
        return [QuickBooksInvoiceRow(str(r), d, c, t, int(tot), int(bal),
                                     int(m) if m is not None else None)
                for r, d, c, t, tot, bal, m in session.execute(stmt)]


def unmatched_count(engine: Engine, source: str) -> int:
    """How many Autotask invoices have no QuickBooks invoice (the Needs matching badge)."""
    with session_scope(engine) as session:
        return int(session.scalar(
            select(func.count()).select_from(QuickBooksInvoiceMatch).where(
                QuickBooksInvoiceMatch.source == source,
                QuickBooksInvoiceMatch.remote_id.is_(None))) or 0)
