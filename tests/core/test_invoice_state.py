"""What an invoice owes, in every situation a bookkeeper meets."""

from __future__ import annotations

from datetime import date

import pytest

from app.core.invoice_state import InvoiceStatus, derive, display_status


@pytest.mark.parametrize(
    ("total", "voided", "paid_date", "ledger", "expected"),
    [
        (10_000, False, None, 0, (0, 10_000, InvoiceStatus.OPEN)),
        (10_000, False, None, 2_500, (2_500, 7_500, InvoiceStatus.PARTIALLY_PAID)),
        (10_000, False, None, 10_000, (10_000, 0, InvoiceStatus.PAID)),
        (10_000, False, date(2026, 1, 5), 0, (10_000, 0, InvoiceStatus.PAID)),
        (10_000, True, None, 0, (0, 0, InvoiceStatus.VOID)),
        (10_000, True, None, 4_000, (4_000, 0, InvoiceStatus.VOID)),
        (-5_000, False, None, 0, (0, 0, InvoiceStatus.PAID)),
        (10_000, False, None, -1, (0, 10_000, InvoiceStatus.OPEN)),
    ],
)
def test_derive(
    total: int,
    voided: bool,
    paid_date: date | None,
    ledger: int,
    expected: tuple[int, int, InvoiceStatus],
) -> None:
    assert derive(
        total_minor=total, is_voided=voided, paid_date=paid_date, ledger_paid_minor=ledger
    ) == expected


def test_overdue_is_decided_against_today() -> None:
    due = date(2026, 3, 1)
    assert display_status("open", due, date(2026, 3, 1)) is InvoiceStatus.OPEN
    assert display_status("open", due, date(2026, 3, 2)) is InvoiceStatus.OVERDUE
    assert display_status("partially_paid", due, date(2026, 4, 1)) is InvoiceStatus.OVERDUE
    assert display_status("paid", due, date(2026, 4, 1)) is InvoiceStatus.PAID
    assert display_status("void", due, date(2026, 4, 1)) is InvoiceStatus.VOID
