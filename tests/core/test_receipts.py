"""The one receipt, made without Qt: the same rows for the PDF (emailed and saved) and the
printed HTML; the surcharge on its own line with its disclosure; the company heading."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image

from app.core.money import Money
from app.core.receipt_identity import ReceiptIdentity
from app.core.receipts import (
    Receipt,
    ReceiptLine,
    ReceiptRefund,
    receipt_html,
    receipt_lines,
    render_receipt_pdf,
)


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def _receipt(**changes: object) -> Receipt:
    values: dict[str, object] = dict(
        reference="PD-1042", organization="Contoso Dental",
        paid_at=datetime(2026, 3, 4, 15, 30, tzinfo=UTC), status_label="Approved",
        method="Visa •••• 4242", lines=[ReceiptLine("INV-2051", usd(100_000)),
                                        ReceiptLine("INV-2052", usd(20_000))],
        subtotal=usd(120_000), surcharge=usd(3_600), total=usd(123_600),
        surcharge_disclosure="A 3% surcharge applies to credit card payments.",
        contact="Maria Lopez")
    values.update(changes)
    return Receipt(**values)  # type: ignore[arg-type]


def _logo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 40), (30, 90, 160)).save(out, format="PNG")
    return out.getvalue()


def test_the_surcharge_is_its_own_line_with_its_disclosure() -> None:
    rows = receipt_lines(_receipt())
    assert rows.lines == [("Invoice INV-2051", "$1,000.00"), ("Invoice INV-2052", "$200.00")]
    assert rows.totals == [("Subtotal", "$1,200.00", False),
                           ("Credit card surcharge", "$36.00", False),
                           ("Total charged", "$1,236.00", True)]
    assert rows.notes == ["A 3% surcharge applies to credit card payments."]
    plain = receipt_lines(_receipt(surcharge=usd(0), total=usd(120_000)))
    assert [t[0] for t in plain.totals] == ["Subtotal", "Total charged"] and plain.notes == []


def test_refunds_are_listed_under_the_total() -> None:
    refund = ReceiptRefund("RF-7", datetime(2026, 3, 9, tzinfo=UTC), usd(20_000))
    rows = receipt_lines(_receipt(refunds=[refund]))
    assert rows.totals[-2][1] == "−$200.00" and "RF-7" in rows.totals[-2][0]
    assert rows.totals[-1] == ("Paid after refunds", "$1,036.00", True)


def test_the_pdf_is_headed_with_the_company_and_prints_unicode() -> None:
    identity = ReceiptIdentity("Northwind IT Services", "1 Main St\nSpringfield, IL",
                               _logo())
    pdf = render_receipt_pdf(_receipt(test_mode=True), identity)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/Subtype /Image" in pdf  # the logo
    assert b"DejaVu" in pdf  # the embedded font that prints "••••" and "—"
    assert b"Payment receipt PD-1042" in pdf or "Payment receipt PD-1042".encode(
        "utf-16-be") in pdf  # the document title
    # Without a logo or a name it still makes a receipt.
    assert render_receipt_pdf(_receipt()).startswith(b"%PDF-")


def test_the_printed_html_says_what_the_pdf_says() -> None:
    identity = ReceiptIdentity("Northwind <IT>", "1 Main St", None)
    text = receipt_html(_receipt(test_mode=True), identity)
    assert "Northwind &lt;IT&gt;" in text and "TEST MODE" in text
    for label, value, _bold in receipt_lines(_receipt()).totals:
        assert label in text and value in text
