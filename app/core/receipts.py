"""The payment receipt: one document, made here without Qt, for the screen's Save and Print and
for the receipt PayDesk emails.

:func:`receipt_lines` decides what a receipt says (one list of rows); :func:`render_receipt_pdf`
draws it as a Letter-size PDF with fpdf2 and :func:`receipt_html` as simple HTML for the
system print dialog — both from the same rows, so the printed, saved and emailed receipts say
the same thing. The receipt is headed with the company's name, address and logo
(:mod:`app.core.receipt_identity`). A test-mode payment says so at the top: nobody should mail
a client a receipt for money that never moved. A surcharge is its own line, with its
disclosure under the totals.

The PDF embeds DejaVu Sans (shipped in ``resources/fonts``, Bitstream Vera licence) so card
bullets, dashes and every currency sign print as they are.

Threads: any; the loaders block on the database.
"""

from __future__ import annotations

import html
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, select

from app.core.email.templates import long_date
from app.core.money import Money
from app.core.receipt_identity import ReceiptIdentity, load_receipt_identity
from app.core.storage.engine import session_scope

__all__ = [
    "Receipt",
    "ReceiptLine",
    "ReceiptRefund",
    "load_payment_receipt",
    "receipt_html",
    "receipt_lines",
    "render_receipt_pdf",
]


@dataclass(frozen=True)
class ReceiptLine:
    invoice_number: str
    amount: Money


@dataclass(frozen=True)
class ReceiptRefund:
    reference: str
    at: datetime
    amount: Money
    kind: str = "refund"


@dataclass(frozen=True)
class Receipt:
    """What a receipt says. Built from the payment the core recorded."""

    reference: str
    organization: str
    paid_at: datetime
    status_label: str
    method: str
    lines: Sequence[ReceiptLine]
    subtotal: Money
    surcharge: Money
    total: Money
    gateway_transaction_id: str | None = None
    contact: str | None = None
    memo: str | None = None
    test_mode: bool = False
    surcharge_disclosure: str | None = None
    issuer: str = field(default="")
    refunds: Sequence[ReceiptRefund] = ()


TEST_BANNER = "TEST MODE — this payment was made with test credentials. No real money moved."


@dataclass(frozen=True, slots=True)
class _Rows:
    details: list[tuple[str, str]]
    lines: list[tuple[str, str]]
    totals: list[tuple[str, str, bool]]  # label, amount, bold
    notes: list[str]


def receipt_lines(receipt: Receipt, locale: str = "en_US") -> _Rows:
    """What the receipt says, in the order it says it (shared by the PDF and the HTML)."""
    details = [
        ("Reference", receipt.reference),
        ("Date", f"{long_date(receipt.paid_at, locale)} "
                 f"{receipt.paid_at.astimezone():%H:%M}"),
        ("Received from", receipt.organization),
    ]
    if receipt.contact:
        details.append(("Paid by", receipt.contact))
    details.append(("Method", receipt.method))
    if receipt.gateway_transaction_id:
        details.append(("Transaction ID", receipt.gateway_transaction_id))
    details.append(("Status", receipt.status_label))
    if receipt.memo:
        details.append(("Memo", receipt.memo))
    lines = [(f"Invoice {line.invoice_number}", line.amount.format(locale))
             for line in receipt.lines]
    totals: list[tuple[str, str, bool]] = [("Subtotal", receipt.subtotal.format(locale), False)]
    if receipt.surcharge:
        totals.append(("Credit card surcharge", receipt.surcharge.format(locale), False))
    totals.append(("Total charged", receipt.total.format(locale), True))
    for refund in receipt.refunds:
        word = "Voided" if refund.kind == "void" else "Refunded"
        totals.append((f"{word} {long_date(refund.at, locale)} "
                       f"({refund.reference})", "−" + refund.amount.format(locale), False))
    if receipt.refunds:
        net = receipt.total
        for refund in receipt.refunds:
            net = net - refund.amount
        totals.append(("Paid after refunds", net.format(locale), True))
    notes = []
    if receipt.surcharge and receipt.surcharge_disclosure:
        notes.append(receipt.surcharge_disclosure)
    return _Rows(details, lines, totals, notes)


# --- HTML (the print dialog) -----------------------------------------------------------------


def receipt_html(receipt: Receipt, identity: ReceiptIdentity | None = None,
                 locale: str = "en_US") -> str:
    """The receipt as simple HTML (Qt's QTextDocument prints it the same on every system)."""
    esc = html.escape
    rows = receipt_lines(receipt, locale)
    head = ""
    if identity is not None and (identity.name or identity.address):
        address = "<br/>".join(esc(x) for x in identity.address.splitlines() if x.strip())
        head = (f"<p><b style='font-size:large'>{esc(identity.name)}</b>"
                f"{'<br/>' + address if address else ''}</p>")
    elif receipt.issuer:
        head = f"<p style='color:#555'>{esc(receipt.issuer)}</p>"
    banner = (f"<p style='background:#fde68a; color:#7c2d12; padding:6px; font-weight:bold'>"
              f"{esc(TEST_BANNER)}</p>" if receipt.test_mode else "")
    detail_rows = "".join(f"<tr><td style='color:#555'>{esc(k)}</td><td>{esc(v)}</td></tr>"
                          for k, v in rows.details)
    line_rows = "".join(f"<tr><td>{esc(k)}</td><td align='right'>{esc(v)}</td></tr>"
                        for k, v in rows.lines)
    total_rows = "".join(
        f"<tr><td>{'<b>' if bold else ''}{esc(k)}{'</b>' if bold else ''}</td>"
        f"<td align='right'>{'<b>' if bold else ''}{esc(v)}{'</b>' if bold else ''}</td></tr>"
        for k, v, bold in rows.totals)
    notes = "".join(f"<p style='color:#555; font-size:small'>{esc(n)}</p>" for n in rows.notes)
    return (
        "<html><body style='font-family:sans-serif'>"
        f"{banner}{head}<h2>Payment receipt</h2>"
        f"<table cellspacing='0' cellpadding='3'>{detail_rows}</table>"
        "<h3>Applied to</h3>"
        "<table width='100%' cellspacing='0' cellpadding='3'>"
        f"{line_rows}<tr><td colspan='2'><hr/></td></tr>{total_rows}</table>"
        f"{notes}</body></html>"
    )


# --- PDF -------------------------------------------------------------------------------------


def _font_roots() -> list[Path]:
    package = Path(__file__).resolve().parent.parent
    roots = [package / "resources" / "fonts", package.parent / "resources" / "fonts"]
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        roots.insert(0, Path(frozen) / "resources" / "fonts")
    return roots


@cache
def _font(name: str) -> Path:
    for root in _font_roots():
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(f"PayDesk's font {name} is missing. Reinstall PayDesk to restore it.")


def render_receipt_pdf(receipt: Receipt, identity: ReceiptIdentity | None = None, *,
                       engine: Engine | None = None, locale: str = "en_US") -> bytes:
    """The receipt as a Letter-size PDF. ``identity`` heads it (loaded from ``engine`` when
    not given)."""
    from fpdf import FPDF

    if identity is None and engine is not None:
        identity = load_receipt_identity(engine)
    rows = receipt_lines(receipt, locale)
    pdf = FPDF(orientation="portrait", unit="mm", format="letter")
    pdf.set_creation_date(receipt.paid_at)
    pdf.set_title(f"Payment receipt {receipt.reference}")
    pdf.set_creator("PayDesk")
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_font("DejaVu", "", str(_font("DejaVuSans.ttf")))
    pdf.add_font("DejaVu", "B", str(_font("DejaVuSans-Bold.ttf")))
    pdf.add_page()
    width = pdf.epw
    if receipt.test_mode:
        pdf.set_fill_color(253, 230, 138)
        pdf.set_text_color(124, 45, 18)
        pdf.set_font("DejaVu", "B", 10)
        pdf.multi_cell(width, 7, TEST_BANNER, fill=True, new_x="LMARGIN", new_y="NEXT",
                       padding=2)
        pdf.ln(4)
        pdf.set_text_color(0, 0, 0)
    top = pdf.get_y()
    if identity is not None and identity.logo_png:
        try:
            pdf.image(io.BytesIO(identity.logo_png), x=pdf.l_margin, y=top, h=18)
            pdf.set_y(top + 20)
        except Exception:  # a broken logo must not stop the receipt
            pdf.set_y(top)
    if identity is not None and identity.name:
        pdf.set_font("DejaVu", "B", 14)
        pdf.multi_cell(width, 7, identity.name, new_x="LMARGIN", new_y="NEXT")
    if identity is not None and identity.address:
        pdf.set_font("DejaVu", "", 10)
        pdf.set_text_color(85, 85, 85)
        pdf.multi_cell(width, 5, identity.address.strip(), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    if (identity is None or not identity.name) and receipt.issuer:
        pdf.set_font("DejaVu", "", 10)
        pdf.multi_cell(width, 5, receipt.issuer, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", "B", 18)
    pdf.cell(width, 10, "Payment receipt", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("DejaVu", "", 10)
    for label, value in rows.details:
        pdf.set_text_color(85, 85, 85)
        pdf.cell(40, 6, label)
        pdf.set_text_color(0, 0, 0)
        pdf.multi_cell(width - 40, 6, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", "B", 12)
    pdf.cell(width, 8, "Applied to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    amount_width = 45
    for label, value in rows.lines:
        pdf.cell(width - amount_width, 6, label)
        pdf.cell(amount_width, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(2)
    for label, value, bold in rows.totals:
        pdf.set_font("DejaVu", "B" if bold else "", 10)
        pdf.cell(width - amount_width, 6, label)
        pdf.cell(amount_width, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    if rows.notes:
        pdf.ln(4)
        pdf.set_font("DejaVu", "", 8)
        pdf.set_text_color(85, 85, 85)
        for note in rows.notes:
            pdf.multi_cell(width, 4.5, note, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


# --- from the database -----------------------------------------------------------------------


def load_payment_receipt(engine: Engine, payment_id: int) -> Receipt:
    """The receipt of a recorded payment, refunds included. Raises ``LookupError`` when there
    is no such payment."""
    from app.core.payments.states import PaymentState
    from app.core.payments.summary import load_surcharge_settings
    from app.core.storage.models import (
        Contact,
        Invoice,
        Organization,
        Payment,
        PaymentAllocation,
        Refund,
    )

    with session_scope(engine) as session:
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise LookupError(f"There is no payment {payment_id}.")
        organization = session.get(Organization, payment.organization_id)
        contact = (session.get(Contact, payment.contact_id)
                   if payment.contact_id is not None else None)
        allocations = session.execute(
            select(Invoice.invoice_number, Invoice.id, PaymentAllocation.amount_minor)
            .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
            .where(PaymentAllocation.payment_id == payment_id)
            .order_by(PaymentAllocation.id)).all()
        refunds = session.scalars(select(Refund).where(
            Refund.payment_id == payment_id, Refund.state == "succeeded")
            .order_by(Refund.created_at)).all()
        currency = payment.currency
        try:
            state_label = PaymentState(payment.state).label
        except ValueError:
            state_label = payment.state
        contact_name = None
        if contact is not None:
            contact_name = " ".join(x for x in (contact.first_name, contact.last_name) if x)
        receipt = Receipt(
            reference=payment.reference,
            organization=organization.name if organization else str(payment.organization_id),
            paid_at=payment.completed_at or payment.created_at,
            status_label=state_label,
            method=payment.method_summary or (payment.method_type or ""),
            lines=[ReceiptLine(number or str(invoice_id), Money(amount, currency))
                   for number, invoice_id, amount in allocations],
            subtotal=Money(payment.amount_minor, currency),
            surcharge=Money(payment.surcharge_minor, currency),
            total=Money(payment.total_minor, currency),
            gateway_transaction_id=payment.gateway_transaction_id,
            contact=contact_name or None,
            memo=payment.memo,
            test_mode=payment.test_mode,
            refunds=[ReceiptRefund(r.reference, r.completed_at or r.created_at,
                                   Money(r.amount_minor, currency), r.kind) for r in refunds],
        )
    if receipt.surcharge:
        disclosure = load_surcharge_settings(engine).disclosure_text()
        receipt = replace(receipt, surcharge_disclosure=disclosure)
    return receipt
