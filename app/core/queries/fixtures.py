"""A deterministic bookkeeping history in bulk, for tests, benchmarks and screenshots.

``build_ledger(engine, organizations=10_000, invoices=200_000)`` writes organizations with
contacts, contracts and tickets, payment terms, invoices with lines that add up to their
totals, and PayDesk payments (with allocations and postings) that leave some invoices
partially paid — the shape of a real MSP's Autotask history. The same seed always gives the
same rows. Derived invoice state is filled with ``app.core.invoice_state.derive`` so the
data obeys the same rules as synced data.

Rows go in with executemany in large chunks, invoices and their lines streamed 50,000
invoices at a time, so 200,000 invoices take seconds and a million never sit in memory.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Engine, Table, insert, select

from app.core.invoice_state import InvoiceStatus, derive
from app.core.money import minor_as_line_amount
from app.core.storage.models import (
    Contact,
    Contract,
    Invoice,
    InvoiceLine,
    Organization,
    Payment,
    PaymentAllocation,
    PaymentTerm,
    Posting,
    Ticket,
)

__all__ = ["LedgerSummary", "build_ledger"]

_CHUNK = 5_000
#: Invoices (with their lines) written at a time.
_STREAM_INVOICES = 50_000

_FIRST = (
    "Harbor",
    "Northwind",
    "Bluebird",
    "Cedar",
    "Summit",
    "Riverside",
    "Granite",
    "Maple",
    "Lakeshore",
    "Pioneer",
    "Oakridge",
    "Silverline",
    "Redwood",
    "Beacon",
    "Meadow",
    "Ironwood",
    "Brightwater",
    "Keystone",
    "Evergreen",
    "Falcon",
    "Copper",
    "Juniper",
    "Westfield",
    "Crescent",
)
_SECOND = (
    "Dental",
    "Legal",
    "Logistics",
    "Family Practice",
    "Realty",
    "Engineering",
    "Accounting",
    "Veterinary",
    "Construction",
    "Insurance",
    "Architects",
    "Pharmacy",
    "Manufacturing",
    "Credit Union",
    "Charter School",
    "Auto Group",
    "Dermatology",
    "Freight",
    "Orthodontics",
    "Title & Escrow",
)
_SUFFIX = ("LLC", "Inc.", "Group", "Partners", "Co.", "PLLC", "Associates", "Ltd.")
_CITIES = (
    ("Portland", "OR", "97205"),
    ("Austin", "TX", "78701"),
    ("Columbus", "OH", "43215"),
    ("Raleigh", "NC", "27601"),
    ("Denver", "CO", "80202"),
    ("Madison", "WI", "53703"),
    ("Boise", "ID", "83702"),
    ("Tampa", "FL", "33602"),
    ("Omaha", "NE", "68102"),
    ("Albany", "NY", "12207"),
    ("Tucson", "AZ", "85701"),
    ("Spokane", "WA", "99201"),
)
_STREETS = ("Main St", "Oak Ave", "Commerce Dr", "Market St", "Park Blvd", "2nd Ave", "Elm St")
_GIVEN = (
    "Maria",
    "James",
    "Priya",
    "Daniel",
    "Aisha",
    "Tom",
    "Elena",
    "Marcus",
    "Grace",
    "Liam",
    "Sofia",
    "Noah",
    "Hannah",
    "Victor",
    "Chloe",
    "Samuel",
)
_FAMILY = (
    "Garcia",
    "Nguyen",
    "Patel",
    "O'Brien",
    "Kowalski",
    "Johnson",
    "Okafor",
    "Schmidt",
    "Rossi",
    "Tanaka",
    "Murphy",
    "Haddad",
    "Larsen",
    "Dubois",
)
_SERVICES = (
    ("Managed services — per user", Decimal("85.00"), (5, 60)),
    ("Managed services — per device", Decimal("35.00"), (10, 120)),
    ("Microsoft 365 Business Premium", Decimal("22.00"), (5, 80)),
    ("Backup and disaster recovery", Decimal("149.00"), (1, 3)),
    ("On-site labor — hourly", Decimal("135.00"), (1, 12)),
    ("Remote labor — hourly", Decimal("110.00"), (1, 10)),
    ("Firewall subscription", Decimal("59.95"), (1, 2)),
    ("Email security", Decimal("3.50"), (10, 120)),
    ("Network switch, 24 port", Decimal("429.00"), (1, 2)),
    ("Project block hours", Decimal("125.00"), (4, 40)),
)
_TERMS = (
    (1, "Net 30", 30),
    (2, "Net 15", 15),
    (3, "Due on receipt", 0),
    (4, "Net 45", 45),
)
_TAX_RATE = Decimal("0.0825")


@dataclass(frozen=True, slots=True)
class LedgerSummary:
    organizations: int
    invoices: int
    lines: int
    payments: int
    first_invoice_id: int
    first_organization_id: int


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start : start + _CHUNK]


def _insert(engine: Engine, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    with engine.begin() as connection:
        for chunk in _chunks(rows):
            connection.execute(insert(table), list(chunk))


def _minor(value: Decimal) -> int:
    return int((value * 100).to_integral_value(ROUND_HALF_UP))


def build_ledger(
    engine: Engine,
    *,
    organizations: int = 200,
    invoices: int = 2_000,
    seed: int = 20_240_601,
    today: date | None = None,
    currency: str = "USD",
    years: int = 3,
    first_organization_id: int = 29_683_000,
    first_invoice_id: int = 410_000,
) -> LedgerSummary:
    """Write a realistic, deterministic history into an empty, migrated database.

    Amounts are in ``currency`` with two decimals (the internal currency of the profile).
    Invoices span ``years`` years up to ``today``; most older ones are paid in Autotask, the
    recent ones are open, some overdue, a few partially paid through PayDesk, a few voided.
    """
    rng = random.Random(seed)
    today = today or date(2026, 11, 20)
    synced = datetime.combine(today, time(6, 0), tzinfo=UTC)

    _insert(
        engine,
        PaymentTerm.__table__,  # type: ignore[arg-type]
        [
            {
                "id": tid,
                "name": name,
                "description": None,
                "is_active": True,
                "due_in_days": days,
                "synced_at": synced,
            }
            for tid, name, days in _TERMS
        ],
    )

    org_rows: list[dict[str, Any]] = []
    contact_rows: list[dict[str, Any]] = []
    contract_rows: list[dict[str, Any]] = []
    ticket_rows: list[dict[str, Any]] = []
    org_terms: list[int] = []
    org_weights: list[float] = []
    contact_id = 30_100_000
    contract_id = 29_900_000
    ticket_id = 7_400_000
    for index in range(organizations):
        oid = first_organization_id + index
        name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)} {rng.choice(_SUFFIX)}"
        if index >= len(_FIRST) * len(_SECOND):
            name = f"{name} {index // (len(_FIRST) * len(_SECOND)) + 1}"
        city, state, postal = rng.choice(_CITIES)
        org_rows.append(
            {
                "id": oid,
                "name": name,
                "company_type": 1,
                "is_active": rng.random() > 0.03,
                "phone": f"({rng.randint(200, 989)}) 555-{rng.randint(0, 9999):04d}",
                "address1": f"{rng.randint(10, 9800)} {rng.choice(_STREETS)}",
                "address2": None,
                "city": city,
                "state": state,
                "postal_code": postal,
                "country": "United States",
                "owner_resource_id": None,
                "last_modified": synced,
                "last_activity": synced,
                "synced_at": synced,
            }
        )
        org_terms.append(rng.choices((1, 2, 3, 4), weights=(70, 15, 10, 5))[0])
        # A few large clients hold many invoices, many small ones hold few (Pareto-ish).
        org_weights.append(rng.paretovariate(1.6))
        domain = name.split()[0].lower() + rng.choice((".com", ".net", ".org"))
        for _ in range(rng.randint(1, 3)):
            given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
            contact_rows.append(
                {
                    "id": contact_id,
                    "organization_id": oid,
                    "first_name": given,
                    "last_name": family,
                    "email": f"{given[0].lower()}{family.lower().replace(chr(39), '')}@{domain}",
                    "phone": f"({rng.randint(200, 989)}) 555-{rng.randint(0, 9999):04d}",
                    "is_active": True,
                    "last_modified": synced,
                    "synced_at": synced,
                }
            )
            contact_id += 1
        for number in range(rng.randint(1, 2)):
            start = today - timedelta(days=rng.randint(30, 365 * years))
            contract_rows.append(
                {
                    "id": contract_id,
                    "organization_id": oid,
                    "name": (
                        "Managed Services Agreement" if number == 0 else "Backup and Recovery Block"
                    ),
                    "status": 1 if rng.random() > 0.15 else 0,
                    "contract_type": 7,
                    "start_date": start,
                    "end_date": start + timedelta(days=365 * 3),
                    "last_modified": synced,
                    "synced_at": synced,
                }
            )
            contract_id += 1
        for _ in range(rng.randint(0, 4)):
            ticket_rows.append(
                {
                    "id": ticket_id,
                    "organization_id": oid,
                    "ticket_number": f"T{ticket_id}",
                    "title": "Service request",
                    "status": rng.choice((1, 5, 5, 8)),
                    "priority": 2,
                    "created_at": synced,
                    "last_modified": synced,
                    "last_activity": synced,
                    "synced_at": synced,
                }
            )
            ticket_id += 1

    _insert(engine, Organization.__table__, org_rows)  # type: ignore[arg-type]
    _insert(engine, Contact.__table__, contact_rows)  # type: ignore[arg-type]
    _insert(engine, Contract.__table__, contract_rows)  # type: ignore[arg-type]
    _insert(engine, Ticket.__table__, ticket_rows)  # type: ignore[arg-type]
    del contact_rows, contract_rows, ticket_rows

    # Invoice dates, oldest first, so ids and numbers grow with time as in Autotask.
    span = 365 * years
    organization_of = rng.choices(range(organizations), weights=org_weights, k=invoices)
    ages = sorted((rng.randint(0, span) for _ in range(invoices)), reverse=True)

    invoice_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    payment_rows: list[dict[str, Any]] = []
    allocation_rows: list[dict[str, Any]] = []
    posting_rows: list[dict[str, Any]] = []
    line_id = 81_000_000
    line_count = 0
    payment_id = 1
    for index in range(invoices):
        iid = first_invoice_id + index
        org_index = organization_of[index]
        oid = first_organization_id + org_index
        term_id = org_terms[org_index]
        invoice_date = today - timedelta(days=ages[index])
        due = invoice_date + timedelta(days=_TERMS[term_id - 1][2])
        taxable = org_index % 3 != 0
        subtotal = tax = 0
        item_at = datetime.combine(invoice_date, time(9, 0), tzinfo=UTC)
        for description, rate, (low, high) in rng.sample(_SERVICES, rng.randint(1, 3)):
            quantity = Decimal(rng.randint(low, high))
            if "hourly" in description:
                quantity = Decimal(rng.randint(2 * low, 2 * high)) / 2
            amount = _minor(quantity * rate)
            line_tax = _minor(Decimal(amount) / 100 * _TAX_RATE) if taxable else 0
            line_rows.append(
                {
                    "id": line_id,
                    "invoice_id": iid,
                    "organization_id": oid,
                    "contract_id": None,
                    "ticket_id": None,
                    "item_date": item_at,
                    "posted_date": item_at,
                    "item_type": 1,
                    "description": description,
                    "quantity": quantity,
                    "rate": rate,
                    "extended_price_e4": minor_as_line_amount(amount, currency),
                    "tax_e4": minor_as_line_amount(line_tax, currency),
                    "total_e4": minor_as_line_amount(amount + line_tax, currency),
                    "synced_at": synced,
                }
            )
            line_id += 1
            subtotal += amount
            tax += line_tax
        total = subtotal + tax
        age = ages[index]
        roll = rng.random()
        is_voided = roll < 0.01
        paid_date: date | None = None
        ledger_paid = 0
        last_payment: date | None = None
        # Older invoices have almost all been paid; the last few months are still owed.
        paid_probability = 0.985 if age > 120 else (0.55 if age > 45 else 0.12)
        if not is_voided and rng.random() < paid_probability:
            paid_date = min(today, due + timedelta(days=rng.randint(-10, 25)))
            paid_date = max(paid_date, invoice_date)
            last_payment = paid_date
        elif not is_voided and rng.random() < 0.08:
            # A partial payment taken in PayDesk.
            ledger_paid = max(100, (total * rng.randint(20, 70) // 100) // 100 * 100)
            paid_at = datetime.combine(
                min(today, invoice_date + timedelta(days=rng.randint(1, 30))),
                time(15, 30),
                tzinfo=UTC,
            )
            reference = f"PD-{payment_id:06d}"
            payment_rows.append(
                {
                    "reference": reference,
                    "idempotency_key": f"fixture-{seed}-{payment_id}",
                    "organization_id": oid,
                    "contact_id": None,
                    "currency": currency,
                    "amount_minor": ledger_paid,
                    "surcharge_minor": 0,
                    "total_minor": ledger_paid,
                    "refunded_minor": 0,
                    "payment_method_id": None,
                    "method_type": "card",
                    "method_summary": f"Visa •••• {rng.randint(1000, 9999)}",
                    "gateway": "stripe",
                    "test_mode": True,
                    "gateway_payment_id": f"pi_fixture_{payment_id}",
                    "gateway_transaction_id": f"ch_fixture_{payment_id}",
                    "state": "succeeded",
                    "failure_code": None,
                    "failure_message": None,
                    "memo": None,
                    "created_at": paid_at,
                    "submitted_at": paid_at,
                    "completed_at": paid_at,
                    "created_by": "fixture",
                }
            )
            allocation_rows.append(
                {"payment_id": reference, "invoice_id": iid, "amount_minor": ledger_paid}
            )
            for target in ("autotask_note", "quickbooks_payment"):
                posting_rows.append(
                    {
                        "target": target,
                        "key": f"{target}:{reference}",
                        "payment_id": reference,
                        "refund_id": None,
                        "invoice_id": iid,
                        "payload": {},
                        "state": "delivered" if rng.random() > 0.1 else "pending",
                        "attempts": 1,
                        "next_attempt_at": None,
                        "last_error": None,
                        "remote_id": None,
                        "created_at": paid_at,
                        "delivered_at": paid_at,
                    }
                )
            last_payment = paid_at.date()
            payment_id += 1
        amount_paid, balance, status = derive(
            total_minor=total,
            is_voided=is_voided,
            paid_date=paid_date,
            ledger_paid_minor=ledger_paid,
        )
        invoice_rows.append(
            {
                "id": iid,
                "organization_id": oid,
                "invoice_number": str(iid - first_invoice_id + 1001),
                "batch_id": None,
                "invoice_date": invoice_date,
                "created_at": datetime.combine(invoice_date, time(8, 0), tzinfo=UTC),
                "due_date": due,
                "from_date": invoice_date.replace(day=1),
                "to_date": invoice_date,
                "payment_term_id": term_id,
                "total_minor": total,
                "tax_minor": tax,
                "is_voided": is_voided,
                "voided_date": datetime.combine(invoice_date, time(12, 0), tzinfo=UTC)
                if is_voided
                else None,
                "paid_date": paid_date,
                "web_service_date": None,
                "order_number": None,
                "comments": None,
                "tax_region_name": "Sales tax 8.25%" if taxable else None,
                "qb_invoice_id": None,
                "qb_doc_number": None,
                "amount_paid_minor": amount_paid,
                "balance_minor": balance,
                "status": status.value,
                "last_payment_date": last_payment,
                "synced_at": synced,
            }
        )
        assert status is not InvoiceStatus.OVERDUE
        if len(invoice_rows) >= _STREAM_INVOICES:
            # Streamed: a million invoices never sit in memory at once.
            line_count += len(line_rows)
            _insert(engine, Invoice.__table__, invoice_rows)  # type: ignore[arg-type]
            _insert(engine, InvoiceLine.__table__, line_rows)  # type: ignore[arg-type]
            invoice_rows.clear()
            line_rows.clear()

    line_count += len(line_rows)
    _insert(engine, Invoice.__table__, invoice_rows)  # type: ignore[arg-type]
    _insert(engine, InvoiceLine.__table__, line_rows)  # type: ignore[arg-type]
    # Payment ids come from the database (its sequence must stay ahead of them).
    _insert(engine, Payment.__table__, payment_rows)  # type: ignore[arg-type]
    with engine.connect() as connection:
        payment_ids = dict(connection.execute(select(Payment.reference, Payment.id)).all())
    for row in (*allocation_rows, *posting_rows):
        row["payment_id"] = payment_ids[row["payment_id"]]
    _insert(engine, PaymentAllocation.__table__, allocation_rows)  # type: ignore[arg-type]
    _insert(engine, Posting.__table__, posting_rows)  # type: ignore[arg-type]
    return LedgerSummary(
        organizations=organizations,
        invoices=invoices,
        lines=line_count,
        payments=len(payment_rows),
        first_invoice_id=first_invoice_id,
        first_organization_id=first_organization_id,
    )
