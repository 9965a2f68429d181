"""The local database: typed SQLAlchemy 2 models.

Two families of tables live here.

* **Mirrors of Autotask** (organizations, contacts, contracts, tickets, invoices, invoice
  lines, payment terms, picklists). Their primary keys are Autotask's ids. They carry no
  foreign-key constraints between each other: Autotask is the source of truth and the sync
  writes entities in parallel, so a contact may land before its company.
* **PayDesk's own records** (payments, allocations, refunds, payment methods, postings,
  sync bookkeeping, audit log). These use foreign keys and database constraints.

Money is always ``*_minor`` BigInteger columns (integer minor units). Amounts on Autotask
mirrors are in the internal currency; PayDesk's own money rows carry their currency code.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.core.storage.types import AutoId, DecimalText, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        Decimal: DecimalText(),
        dict[str, Any]: JSON,
    }


# --------------------------------------------------------------------------------------------
# Settings and the internal currency
# --------------------------------------------------------------------------------------------


class Setting(Base):
    """Program-wide settings shared by every seat (sync interval, surcharge rules, …)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class InternalCurrency(Base):
    """The one internal currency. A single row (id = 1) that database triggers make immutable.

    The migration installs triggers on both SQLite and PostgreSQL that refuse UPDATE and
    DELETE, so the lock holds even against code that bypasses ``app.core.config``.
    """

    __tablename__ = "internal_currency"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(3))
    locked_at: Mapped[datetime]
    locked_by: Mapped[str] = mapped_column(String(200))


# --------------------------------------------------------------------------------------------
# Mirrors of Autotask
# --------------------------------------------------------------------------------------------


class Organization(Base):
    """An Autotask company."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(255))
    company_type: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    phone: Mapped[str | None] = mapped_column(String(50))
    address1: Mapped[str | None] = mapped_column(String(255))
    address2: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    country: Mapped[str | None] = mapped_column(String(100))
    owner_resource_id: Mapped[int | None] = mapped_column(BigInteger)
    #: Autotask's Currencies id this organization is billed in (multi-currency tenants).
    currency_id: Mapped[int | None] = mapped_column(BigInteger)
    last_modified: Mapped[datetime | None]
    last_activity: Mapped[datetime | None]
    synced_at: Mapped[datetime]

    __table_args__ = (Index("ix_organizations_name", "name", "id"),)


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    organization_id: Mapped[int] = mapped_column(BigInteger, index=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(50))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_modified: Mapped[datetime | None]
    synced_at: Mapped[datetime]


class Contract(Base):
    __tablename__ = "contracts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    organization_id: Mapped[int] = mapped_column(BigInteger, index=True)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[int | None] = mapped_column(Integer)
    contract_type: Mapped[int | None] = mapped_column(Integer)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    last_modified: Mapped[datetime | None]
    synced_at: Mapped[datetime]


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    organization_id: Mapped[int] = mapped_column(BigInteger, index=True)
    ticket_number: Mapped[str | None] = mapped_column(String(50))
    title: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime | None]
    last_modified: Mapped[datetime | None]
    last_activity: Mapped[datetime | None]
    synced_at: Mapped[datetime]


class PaymentTerm(Base):
    __tablename__ = "payment_terms"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    due_in_days: Mapped[int | None] = mapped_column(Integer)
    synced_at: Mapped[datetime]


class PicklistValue(Base):
    """A label for an Autotask picklist code (codes differ per tenant)."""

    __tablename__ = "picklist_values"

    entity: Mapped[str] = mapped_column(String(50), primary_key=True)
    field: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(50), primary_key=True)
    label: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int | None] = mapped_column(Integer)


class Invoice(Base):
    """An Autotask invoice plus PayDesk's derived state.

    ``amount_paid_minor``, ``balance_minor``, ``status`` and ``last_payment_date`` are
    derived (Autotask's paidDate plus PayDesk's allocations) by ``app.core.invoice_state``
    and stored so that Invoice History can sort and filter on them with an index.
    ``status`` holds open / partially_paid / paid / void; "overdue" is open or partially
    paid with a due date in the past, decided at query time.
    """

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    organization_id: Mapped[int] = mapped_column(BigInteger)
    invoice_number: Mapped[str | None] = mapped_column(String(50))
    batch_id: Mapped[int | None] = mapped_column(BigInteger)
    invoice_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime | None]
    due_date: Mapped[date | None] = mapped_column(Date)
    from_date: Mapped[date | None] = mapped_column(Date)
    to_date: Mapped[date | None] = mapped_column(Date)
    payment_term_id: Mapped[int | None] = mapped_column(BigInteger)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    is_voided: Mapped[bool] = mapped_column(Boolean, default=False)
    voided_date: Mapped[datetime | None]
    paid_date: Mapped[date | None] = mapped_column(Date)
    web_service_date: Mapped[datetime | None]
    order_number: Mapped[str | None] = mapped_column(String(100))
    comments: Mapped[str | None] = mapped_column(Text)
    tax_region_name: Mapped[str | None] = mapped_column(String(100))
    # QuickBooks' side of the invoice (filled by the QuickBooks integration).
    qb_invoice_id: Mapped[str | None] = mapped_column(String(50))
    qb_doc_number: Mapped[str | None] = mapped_column(String(50))
    # Derived state (app.core.invoice_state).
    amount_paid_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    balance_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(20), default="open")
    last_payment_date: Mapped[date | None] = mapped_column(Date)
    synced_at: Mapped[datetime]
    # Invoice History's search text: the invoice and QuickBooks numbers, lower-cased and
    # tab-separated, computed and stored by the database itself (so every writer — the
    # sync, payments, fixtures — keeps it right). A substring search scans the narrow
    # ``ix_invoices_search`` index instead of every invoice row: see
    # ``app.core.queries.invoices``.
    search_key: Mapped[str] = mapped_column(
        Text,
        Computed(
            "lower(coalesce(invoice_number, '')) || '\t' || lower(coalesce(qb_doc_number, ''))",
            persisted=True,
        ),
    )

    __table_args__ = (
        Index("ix_invoices_organization_id", "organization_id", "id"),
        # Substring search, answered from the index alone: which invoices match (number,
        # QuickBooks number, organization) and their totals.
        Index(
            "ix_invoices_search",
            "search_key",
            "organization_id",
            "status",
            "total_minor",
            "balance_minor",
            "id",
        ),
        Index("ix_invoices_invoice_number", "invoice_number", "id"),
        Index("ix_invoices_qb_doc_number", "qb_doc_number", "id"),
        Index("ix_invoices_invoice_date", "invoice_date", "id"),
        Index("ix_invoices_due_date", "due_date", "id"),
        # Sorting by status walks this index one status at a time; Paid and Credit are told
        # apart by the total's sign, so it is here too (a million invoices, no row reads).
        Index("ix_invoices_status", "status", "due_date", "id", "total_minor"),
        Index("ix_invoices_payment_term", "payment_term_id", "id"),
        # Invoice History's default listing (by status, newest first) and its totals,
        # answered from the index alone.
        Index(
            "ix_invoices_status_listing",
            "status",
            "invoice_date",
            "id",
            "total_minor",
            "balance_minor",
        ),
        Index("ix_invoices_balance", "balance_minor", "id"),
        Index("ix_invoices_total", "total_minor", "id"),
        Index("ix_invoices_amount_paid", "amount_paid_minor", "id"),
        Index("ix_invoices_last_payment_date", "last_payment_date", "id"),
        # Covers the Organization view's grouped open balance / overdue / last payment query.
        Index(
            "ix_invoices_organization_summary",
            "organization_id",
            "status",
            "due_date",
            "balance_minor",
            "last_payment_date",
        ),
    )


class InvoiceLine(Base):
    """An Autotask BillingItem that was posted to an invoice."""

    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    invoice_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    organization_id: Mapped[int | None] = mapped_column(BigInteger)
    contract_id: Mapped[int | None] = mapped_column(BigInteger)
    ticket_id: Mapped[int | None] = mapped_column(BigInteger)
    item_date: Mapped[datetime | None]
    posted_date: Mapped[datetime | None]
    item_type: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    quantity: Mapped[Decimal | None]
    #: The unit price exactly as Autotask holds it (text: 12.3456 stays 12.3456).
    rate: Mapped[Decimal | None]
    #: A line's amounts are kept exactly, in integer ten-thousandths of the currency's major
    #: unit (``app.core.money.LINE_AMOUNT_PLACES``): four-decimal unit prices make line
    #: amounts such as 37.0368. Invoice totals, balances and payments stay in minor units.
    extended_price_e4: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_e4: Mapped[int] = mapped_column(BigInteger, default=0)
    total_e4: Mapped[int] = mapped_column(BigInteger, default=0)
    synced_at: Mapped[datetime]


# --------------------------------------------------------------------------------------------
# Payment methods and payments (PayDesk's own)
# --------------------------------------------------------------------------------------------


class GatewayCustomer(Base):
    """Which gateway customer stands for an organization."""

    __tablename__ = "gateway_customers"

    gateway: Mapped[str] = mapped_column(String(30), primary_key=True)
    organization_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class PaymentMethod(Base):
    """A saved card or bank account: a gateway token and what a person needs to recognise it.

    Never a card number, CVC or bank account number — only brand, last 4 and expiry.
    """

    __tablename__ = "payment_methods"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(BigInteger, index=True)
    gateway: Mapped[str] = mapped_column(String(30))
    token: Mapped[str] = mapped_column(String(255))
    method_type: Mapped[str] = mapped_column(String(30))  # card | us_bank_account
    brand: Mapped[str | None] = mapped_column(String(50))  # visa, mastercard, bank name …
    last4: Mapped[str | None] = mapped_column(String(4))
    exp_month: Mapped[int | None] = mapped_column(Integer)
    exp_year: Mapped[int | None] = mapped_column(Integer)
    funding: Mapped[str | None] = mapped_column(String(20))  # credit | debit | prepaid
    holder_name: Mapped[str | None] = mapped_column(String(255))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("gateway", "token"),)


class Payment(Base):
    """One payment attempt and its outcome. Created with its idempotency key before the
    gateway is called (see ``app.core.payments``)."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    organization_id: Mapped[int] = mapped_column(BigInteger)
    contact_id: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # applied to invoices
    surcharge_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger)  # charged
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    payment_method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id"))
    method_type: Mapped[str | None] = mapped_column(String(30))
    method_summary: Mapped[str | None] = mapped_column(String(100))  # "Visa •••• 4242"
    gateway: Mapped[str] = mapped_column(String(30))
    # The gateway account it was taken with (app.core.gateways.providers.account_key):
    # refunds and follow-ups go to that account, never to "the one connected now".
    gateway_account: Mapped[str | None] = mapped_column(String(200))
    test_mode: Mapped[bool] = mapped_column(Boolean, default=True)
    gateway_payment_id: Mapped[str | None] = mapped_column(String(255))
    gateway_transaction_id: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(30))
    failure_code: Mapped[str | None] = mapped_column(String(100))
    failure_message: Mapped[str | None] = mapped_column(Text)
    memo: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200))
    # How the payment was taken: saved_method | new_method | pay_link (app.core.payments).
    channel: Mapped[str] = mapped_column(
        String(20), default="saved_method", server_default="saved_method"
    )
    # The gateway's hosted page for pay links and new methods (not secret: a checkout URL).
    hosted_session_id: Mapped[str | None] = mapped_column(String(255))
    hosted_url: Mapped[str | None] = mapped_column(Text)
    # Payment Search's Sale Amount: what was charged when the gateway took the money (the
    # states of ``app.core.queries.payments.SALE_TAKEN_STATES``), else zero. Stored by the
    # database so that sorting by amount walks ``ix_payments_sale_amount``.
    sale_amount_minor: Mapped[int] = mapped_column(
        BigInteger,
        Computed(
            "CASE WHEN state IN ('succeeded', 'processing', 'partially_refunded', "
            "'refunded', 'voided') THEN total_minor ELSE 0 END",
            persisted=True,
        ),
    )

    allocations: Mapped[list[PaymentAllocation]] = relationship(back_populates="payment")

    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("surcharge_minor >= 0", name="surcharge_not_negative"),
        CheckConstraint("total_minor = amount_minor + surcharge_minor", name="total_adds_up"),
        Index("ix_payments_organization_id", "organization_id", "created_at"),
        # Payment Search's default order walks this index alone (the state says whether a
        # row is listed), merged with the refunds' own date index.
        Index("ix_payments_created_at", "created_at", "id", "state"),
        Index("ix_payments_sale_amount", "sale_amount_minor", "id", "state"),
        Index("ix_payments_state", "state"),
        # Payment Search filtered by status, newest first: one status's payments in date
        # order, not all of them sorted.
        Index("ix_payments_state_created_at", "state", "created_at", "id"),
        # Transactions sorted by amount: the first page from the index, not a million sorted.
        Index("ix_payments_amount", "amount_minor", "id"),
        Index("ix_payments_gateway_transaction_id", "gateway_transaction_id"),
        Index("ix_payments_contact_id", "contact_id"),
    )


class PaymentAllocation(Base):
    """How much of a payment went to one invoice."""

    __tablename__ = "payment_allocations"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    payment: Mapped[Payment] = relationship(back_populates="allocations")

    __table_args__ = (
        UniqueConstraint("payment_id", "invoice_id"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
    )


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), default="refund")  # refund | void
    state: Mapped[str] = mapped_column(String(30))
    gateway_refund_id: Mapped[str | None] = mapped_column(String(255))
    failure_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("ix_refunds_created_at", "created_at", "id"),
    )


class RefundAllocation(Base):
    """How much of a refund was taken back from one invoice (reopening its balance)."""

    __tablename__ = "refund_allocations"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("refund_id", "invoice_id"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
    )


# --------------------------------------------------------------------------------------------
# AutoPay: the customer's authorizations, the rules, each charge attempt, scheduled payments
# (app.core.autopay)
# --------------------------------------------------------------------------------------------


class AutoPayAuthorization(Base):
    """The customer's standing authorization to charge a saved method: who agreed, when, how,
    for which method and how they revoke it. Never deleted by PayDesk: NACHA asks that it be
    kept two years after the last debit (``retain_until``); revoking only stamps it."""

    __tablename__ = "autopay_authorizations"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(BigInteger, index=True)
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    method_summary: Mapped[str] = mapped_column(String(100))  # as it read when agreed
    signer_name: Mapped[str] = mapped_column(String(255))
    signer_email: Mapped[str | None] = mapped_column(String(255))
    contact_id: Mapped[int | None] = mapped_column(BigInteger)
    agreed_at: Mapped[datetime]
    how: Mapped[str] = mapped_column(String(20))  # hosted_page | signed_form
    # The gateway's session/mandate id, or where the signed form is filed.
    evidence: Mapped[str] = mapped_column(Text)
    terms: Mapped[str] = mapped_column(Text)  # the text they agreed to, word for word
    revoke_instructions: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    last_debit_at: Mapped[datetime | None]
    retain_until: Mapped[date] = mapped_column(Date)


class AutoPayRule(Base):
    """Per organization: charge which invoices, when, up to what, with which method. At most
    one rule of an organization is active (not revoked); the terms never change after the
    customer agreed to them — a change is a new rule with a new authorization."""

    __tablename__ = "autopay_rules"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(BigInteger)
    authorization_id: Mapped[int] = mapped_column(
        ForeignKey("autopay_authorizations.id"), unique=True)
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    timing: Mapped[str] = mapped_column(String(30))  # due_date | after_invoice_date
    days_after_invoice: Mapped[int] = mapped_column(Integer, default=0)
    # Empty lists: every invoice. Otherwise an invoice qualifies when every line is for a
    # contract of one of these types / of one of these billing item types.
    contract_types: Mapped[list[int]] = mapped_column(JSON)
    item_types: Mapped[list[int]] = mapped_column(JSON)
    limit_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    covers_from: Mapped[date] = mapped_column(Date)  # invoices dated on or after
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("limit_minor > 0", name="limit_positive"),
        CheckConstraint("days_after_invoice >= 0", name="days_not_negative"),
        Index("ix_autopay_rules_active", "organization_id", unique=True,
              sqlite_where=text("revoked_at IS NULL"),
              postgresql_where=text("revoked_at IS NULL")),
    )


class AutoPayAttempt(Base):
    """One AutoPay charge of one invoice under one rule, written (claimed) before the charge.
    ``(rule_id, invoice_id, attempt_no)`` is unique, so two seats or a rerun after a crash
    never claim the same charge twice; a claimed attempt with a payment is settled only
    through that payment (the pipeline's recovery), never charged again."""

    __tablename__ = "autopay_attempts"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("autopay_rules.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    attempt_no: Mapped[int] = mapped_column(Integer)
    charged_on: Mapped[date] = mapped_column(Date)  # the run's day (retries count from it)
    # charging | succeeded | processing | declined | not_charged | gave_up | stopped
    state: Mapped[str] = mapped_column(String(20))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    next_retry_on: Mapped[date | None] = mapped_column(Date)
    claimed_at: Mapped[datetime]
    claimed_by: Mapped[str] = mapped_column(String(200))
    settled_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("rule_id", "invoice_id", "attempt_no"),
        Index("ix_autopay_attempts_state", "state", "next_retry_on"),
    )


class ScheduledPayment(Base):
    """One future charge of given invoices on a given date, set from the Order Summary.
    Claimed (``scheduled`` → ``charging``) in one conditional update before the charge, so it
    is charged once, ever."""

    __tablename__ = "scheduled_payments"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(BigInteger, index=True)
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    charge_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    # invoice id (text) -> amount in minor units, as chosen in the Order Summary
    allocations: Mapped[dict[str, Any]] = mapped_column(JSON)
    # scheduled | charging | succeeded | processing | declined | failed | cancelled
    state: Mapped[str] = mapped_column(String(20), default="scheduled")
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    memo: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    # Who is charging it and since when (a crash leaves it ``charging``: see the runner).
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    settled_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_scheduled_payments_due", "state", "charge_on"),)


class AutoPayRun(Base):
    """One AutoPay run (the upkeep's or ``paydesk payments autopay``'s): when, by whom, what
    it did — for the AutoPay view's "last run"."""

    __tablename__ = "autopay_runs"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    run_on: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    actor: Mapped[str] = mapped_column(String(200))
    charged: Mapped[int] = mapped_column(Integer, default=0)
    charged_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    declined: Mapped[int] = mapped_column(Integer, default=0)
    needs_person: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_autopay_runs_started_at", "started_at"),)


# --------------------------------------------------------------------------------------------
# QuickBooks (Online and Desktop): its customers and invoices, and the match to Autotask's
# --------------------------------------------------------------------------------------------


class QuickBooksCustomer(Base):
    """A QuickBooks customer as last read (``source``: online | desktop)."""

    __tablename__ = "quickbooks_customers"

    source: Mapped[str] = mapped_column(String(10), primary_key=True)
    remote_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(500))
    company_name: Mapped[str | None] = mapped_column(String(500))
    currency: Mapped[str | None] = mapped_column(String(3))
    balance_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Online's SyncToken or Desktop's EditSequence.
    sync_token: Mapped[str | None] = mapped_column(String(50))
    last_updated: Mapped[datetime | None]
    read_at: Mapped[datetime]

    __table_args__ = (Index("ix_quickbooks_customers_name", "source", "display_name"),)


class QuickBooksInvoice(Base):
    """A QuickBooks invoice as last read. Amounts in ``currency``'s minor units."""

    __tablename__ = "quickbooks_invoices"

    source: Mapped[str] = mapped_column(String(10), primary_key=True)
    remote_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    doc_number: Mapped[str | None] = mapped_column(String(50))
    customer_id: Mapped[str | None] = mapped_column(String(50))
    customer_name: Mapped[str | None] = mapped_column(String(500))
    txn_date: Mapped[date | None] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date)
    total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    balance_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str | None] = mapped_column(String(3))
    sync_token: Mapped[str | None] = mapped_column(String(50))
    last_updated: Mapped[datetime | None]
    read_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_quickbooks_invoices_doc_number", "source", "doc_number"),
        Index("ix_quickbooks_invoices_customer_date", "source", "customer_name", "txn_date"),
    )


class QuickBooksInvoiceMatch(Base):
    """Which QuickBooks invoice an Autotask invoice is, and how that was decided.

    ``remote_id`` is None while unmatched, with ``reason`` saying why (none found, several
    found). ``method``: by_number | by_customer_date_total | by_hand. ``by_hand`` rows — a
    person's match, or a person's "not this one" (``remote_id`` None) — are never changed by
    an automatic pass.
    """

    __tablename__ = "quickbooks_invoice_matches"

    source: Mapped[str] = mapped_column(String(10), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    remote_id: Mapped[str | None] = mapped_column(String(50))
    method: Mapped[str | None] = mapped_column(String(30))
    by_hand: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why unmatched: not_in_quickbooks | ambiguous | currency | by_hand.
    reason_code: Mapped[str | None] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime]
    decided_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_quickbooks_invoice_matches_remote", "source", "remote_id"),
    )


class QuickBooksSyncState(Base):
    """Checkpoints of the QuickBooks read, per source and entity (Customer, Invoice)."""

    __tablename__ = "quickbooks_sync_state"

    source: Mapped[str] = mapped_column(String(10), primary_key=True)
    entity: Mapped[str] = mapped_column(String(30), primary_key=True)
    # full: a full read is under way (``next_position`` is where it resumes); incremental.
    phase: Mapped[str] = mapped_column(String(20))
    next_position: Mapped[int] = mapped_column(Integer, default=1)
    # When the running full read started (its changes are caught by the next CDC).
    full_started_at: Mapped[datetime | None]
    full_completed_at: Mapped[datetime | None]
    # Everything changed before this instant has been read.
    watermark: Mapped[datetime | None]
    updated_at: Mapped[datetime]


# --------------------------------------------------------------------------------------------
# The outbox
# --------------------------------------------------------------------------------------------


class Posting(Base):
    """One thing to tell Autotask or QuickBooks, delivered exactly once by its stable key."""

    __tablename__ = "postings"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    # The posting channel (app.core.posting.channels) that delivers it: autotask, …
    channel: Mapped[str] = mapped_column(
        String(40), default="autotask", server_default="autotask"
    )
    target: Mapped[str] = mapped_column(String(40))  # autotask_note, autotask_paid_date, …
    key: Mapped[str] = mapped_column(String(120), unique=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"))
    invoice_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending | waiting | delivering | delivered | failed | dismissed
    state: Mapped[str] = mapped_column(String(20), default="pending")
    # Why a waiting posting cannot go yet ("invoice 1045 is not matched in QuickBooks yet").
    waiting_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_postings_due", "state", "next_attempt_at"),)


class OutboxEmail(Base):
    """One email PayDesk sends (a receipt, a pay link, a reminder …), recorded before it is
    sent and kept as the email log (app.core.email.outbox). ``dedupe_key`` is unique: the same
    reason never sends twice. The subject and body are rendered from the template when the
    email is sent, so ``subject`` is empty until then."""

    __tablename__ = "outbox_emails"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    # Why it is sent: receipt | refund_receipt | pay_link | reminder | test | autopay_… .
    reason: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(60))
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What to attach, resolved when sending: [{"kind": "payment_receipt", "payment_id": 5}].
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    organization_id: Mapped[int | None] = mapped_column(BigInteger)
    payment_id: Mapped[int | None] = mapped_column(BigInteger)
    invoice_id: Mapped[int | None] = mapped_column(BigInteger)
    subject: Mapped[str | None] = mapped_column(Text)
    # pending | sending | sent | failed | dismissed
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # The mail server's answer when it accepted the message (its queue id, when it says one).
    delivery_result: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_outbox_emails_due", "state", "next_attempt_at"),
        Index("ix_outbox_emails_created_at", "created_at", "id"),
        Index("ix_outbox_emails_invoice_id", "invoice_id"),
        Index("ix_outbox_emails_payment_id", "payment_id"),
    )


# --------------------------------------------------------------------------------------------
# Sync bookkeeping
# --------------------------------------------------------------------------------------------


class SyncState(Base):
    """Per entity (and id-range partition during a first sync): where the sync stands."""

    __tablename__ = "sync_state"

    entity: Mapped[str] = mapped_column(String(50), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    phase: Mapped[str] = mapped_column(String(20))  # full | incremental
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)  # checkpoint while paging
    upper_id: Mapped[int | None] = mapped_column(BigInteger)  # partition end (exclusive)
    watermark: Mapped[datetime | None]
    full_completed_at: Mapped[datetime | None]
    last_reconciled_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class SyncRun(Base):
    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # full | incremental | reconcile
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20))  # running | succeeded | failed | cancelled
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str] = mapped_column(String(200))


class QuarantinedRecord(Base):
    """A record from Autotask that failed validation; kept with its reason, never synced."""

    __tablename__ = "quarantined_records"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id"), index=True)
    entity: Mapped[str] = mapped_column(String(50))
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("entity", "record_id"),)


class AuditEntry(Base):
    """Who did what, when. Append-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject_type: Mapped[str | None] = mapped_column(String(50))
    subject_id: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_audit_log_subject", "subject_type", "subject_id"),)
