"""Where the books disagree: Autotask, PayDesk's ledger and QuickBooks, invoice by invoice.

For every Autotask invoice (voided ones only when QuickBooks still has them), three views side
by side — Autotask's state (open, paid, void), PayDesk's balance (Autotask's paid date plus
PayDesk's payments and refunds), and the matched QuickBooks invoice's total and balance — and
only the invoices where they disagree, each with why:

* ``not_in_quickbooks`` — Autotask has not exported it yet;
* ``not_matched`` — QuickBooks may have it, but no match was found (the stored reason says why;
  match it by hand in Needs matching);
* ``amounts_differ`` — QuickBooks' total is not Autotask's (edited in QuickBooks);
* ``payment_not_posted`` — PayDesk took a payment (or refund) that is not in QuickBooks yet
  (its posting is queued, waiting or failing);
* ``paid_in_quickbooks`` — QuickBooks shows more paid than PayDesk knows (a payment entered in
  QuickBooks directly);
* ``quickbooks_shows_less_paid`` — QuickBooks shows less paid than PayDesk (a payment taken
  before QuickBooks was connected, or deleted or changed in QuickBooks).

Source-neutral (``source``: online | desktop). Reads only the local database: run the sync
first for QuickBooks' latest. Threads: blocks on the database; call off the GUI thread.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from app.core.money import Money
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Invoice,
    Organization,
    PaymentAllocation,
    Posting,
    QuickBooksInvoice,
    QuickBooksInvoiceMatch,
    RefundAllocation,
)

__all__ = ["Disagreement", "ReconcileReport", "ReconcileRow", "reconcile"]

#: Posting states that mean "not in QuickBooks yet".
_UNDELIVERED = ("pending", "waiting", "delivering", "failed")
_CHANNEL_OF_SOURCE = {"online": "quickbooks_online", "desktop": "quickbooks_desktop"}


@dataclass(frozen=True, slots=True)
class Disagreement:
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class ReconcileRow:
    invoice_id: int
    invoice_number: str | None
    organization: str | None
    autotask_state: str
    autotask_total_minor: int
    paydesk_balance_minor: int
    paydesk_status: str
    quickbooks_id: str | None
    quickbooks_doc_number: str | None
    quickbooks_total_minor: int | None
    quickbooks_balance_minor: int | None
    not_posted_minor: int
    disagreements: tuple[Disagreement, ...]

    def as_json(self, currency: str) -> dict[str, Any]:
        def amount(minor: int | None) -> str | None:
            return None if minor is None else str(Money(minor, currency).to_decimal())

        return {
            "invoice_id": self.invoice_id, "invoice_number": self.invoice_number,
            "organization": self.organization, "autotask_state": self.autotask_state,
            "autotask_total": amount(self.autotask_total_minor),
            "paydesk_balance": amount(self.paydesk_balance_minor),
            "paydesk_status": self.paydesk_status,
            "quickbooks_id": self.quickbooks_id,
            "quickbooks_doc_number": self.quickbooks_doc_number,
            "quickbooks_total": amount(self.quickbooks_total_minor),
            "quickbooks_balance": amount(self.quickbooks_balance_minor),
            "not_posted": amount(self.not_posted_minor),
            "disagreements": [asdict(d) for d in self.disagreements],
        }


@dataclass(slots=True)
class ReconcileReport:
    currency: str
    source: str
    checked: int = 0
    rows: list[ReconcileRow] = field(default_factory=list)
    quickbooks_read: bool = True

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for row in self.rows:
            for d in row.disagreements:
                out[d.code] += 1
        return dict(sorted(out.items()))

    def as_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency, "source": self.source, "checked": self.checked,
            "quickbooks_read": self.quickbooks_read, "disagreeing": len(self.rows),
            "counts": self.counts(), "rows": [r.as_json(self.currency) for r in self.rows],
        }


def _not_posted(session: Any, channel: str) -> dict[int, int]:
    """Invoice id → net amount PayDesk recorded that the channel has not delivered yet
    (payments positive, refunds negative)."""
    out: dict[int, int] = defaultdict(int)
    pay_targets = [f"{channel}_payment"]
    refund_targets = [f"{channel}_refund"]
    reversed_targets = [f"{channel}_refund_reversed"]
    for invoice_id, amount in session.execute(
        select(PaymentAllocation.invoice_id, PaymentAllocation.amount_minor)
        .join(Posting, Posting.payment_id == PaymentAllocation.payment_id)
        .where(Posting.channel == channel, Posting.target.in_(pay_targets),
               Posting.state.in_(_UNDELIVERED))
    ):
        out[int(invoice_id)] += int(amount)
    for targets, sign in ((refund_targets, -1), (reversed_targets, 1)):
        for invoice_id, amount in session.execute(
            select(RefundAllocation.invoice_id, RefundAllocation.amount_minor)
            .join(Posting, Posting.refund_id == RefundAllocation.refund_id)
            .where(Posting.channel == channel, Posting.target.in_(targets),
                   Posting.state.in_(_UNDELIVERED))
        ):
            out[int(invoice_id)] += sign * int(amount)
    return out


def reconcile(engine: Engine, source: str, currency: str) -> ReconcileReport:
    """The disagreeing invoices (see the module docstring), newest first."""
    report = ReconcileReport(currency=currency, source=source)

    def fmt(minor: int) -> str:
        return Money(minor, currency).format()

    with session_scope(engine) as session:
        qb: dict[str, tuple[str | None, int, int]] = {
            rid: (doc, int(total), int(balance)) for rid, doc, total, balance in session.execute(
                select(QuickBooksInvoice.remote_id, QuickBooksInvoice.doc_number,
                       QuickBooksInvoice.total_minor, QuickBooksInvoice.balance_minor)
                .where(QuickBooksInvoice.source == source))
        }
        matches = {int(i): (rid, reason, code) for i, rid, reason, code in session.execute(
            select(QuickBooksInvoiceMatch.invoice_id, QuickBooksInvoiceMatch.remote_id,
                   QuickBooksInvoiceMatch.reason, QuickBooksInvoiceMatch.reason_code)
            .where(QuickBooksInvoiceMatch.source == source))}
        report.quickbooks_read = bool(qb) or bool(matches)
        not_posted = _not_posted(session, _CHANNEL_OF_SOURCE.get(source, source))
        org_names = dict(session.execute(select(Organization.id, Organization.name)).all())
        rows = session.execute(select(
            Invoice.id, Invoice.invoice_number, Invoice.organization_id, Invoice.is_voided,
            Invoice.paid_date, Invoice.total_minor, Invoice.balance_minor, Invoice.status,
            Invoice.invoice_date,
        ).order_by(Invoice.invoice_date.desc(), Invoice.id.desc()))
        for (inv_id, number, org_id, voided, paid_date, total, balance, status,
             _date) in rows:
            inv_id = int(inv_id)
            remote, reason, code = matches.get(inv_id, (None, None, None))
            if voided and not remote:
                continue
            report.checked += 1
            found = qb.get(remote) if remote else None
            pending = not_posted.get(inv_id, 0)
            said: list[Disagreement] = []
            if found is None:
                if remote:
                    said.append(Disagreement("not_matched", (
                        "The matched QuickBooks invoice is no longer in QuickBooks (deleted?). "
                        "Match it again in Needs matching.")))
                elif code == "not_in_quickbooks":
                    said.append(Disagreement("not_in_quickbooks", reason or (
                        "Not in QuickBooks: Autotask has not exported this invoice yet.")))
                else:
                    said.append(Disagreement("not_matched", reason or (
                        "Not matched to a QuickBooks invoice yet (QuickBooks has not been read "
                        "since this invoice arrived).")))
                if pending:
                    said.append(Disagreement("payment_not_posted", (
                        f"{fmt(abs(pending))} recorded in PayDesk waits to be posted to "
                        "QuickBooks until the invoice is matched.")))
            else:
                _doc, qb_total, qb_balance = found
                if qb_total != int(total):
                    said.append(Disagreement("amounts_differ", (
                        f"QuickBooks' total is {fmt(qb_total)}, Autotask's is {fmt(int(total))} "
                        "(the invoice was edited in one of them).")))
                # What QuickBooks' balance would be if it agreed with PayDesk.
                expected = int(balance) + (qb_total - int(total)) + pending
                if pending:
                    said.append(Disagreement("payment_not_posted", (
                        f"{fmt(abs(pending))} recorded in PayDesk is not in QuickBooks yet "
                        "(its posting is queued, waiting or failing — see Transactions).")))
                if qb_balance < expected:
                    said.append(Disagreement("paid_in_quickbooks", (
                        f"QuickBooks shows {fmt(expected - qb_balance)} more paid than PayDesk: "
                        "a payment was recorded in QuickBooks outside PayDesk.")))
                elif qb_balance > expected:
                    said.append(Disagreement("quickbooks_shows_less_paid", (
                        f"QuickBooks shows {fmt(qb_balance - expected)} less paid than PayDesk: "
                        "a payment PayDesk took before QuickBooks was connected, or one deleted "
                        "or changed in QuickBooks.")))
            if not said:
                continue
            autotask_state = "void" if voided else ("paid" if paid_date else "open")
            report.rows.append(ReconcileRow(
                invoice_id=inv_id, invoice_number=number, organization=org_names.get(org_id),
                autotask_state=autotask_state, autotask_total_minor=int(total),
                paydesk_balance_minor=int(balance), paydesk_status=str(status),
                quickbooks_id=remote, quickbooks_doc_number=found[0] if found else None,
                quickbooks_total_minor=found[1] if found else None,
                quickbooks_balance_minor=found[2] if found else None,
                not_posted_minor=pending, disagreements=tuple(said)))
    return report
