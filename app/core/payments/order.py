"""What the Order Summary dialog needs before its first summary, read in one go: the
invoices with their balances (and why any cannot be paid), the organization's name and
active contacts, its saved cards and bank accounts, and the surcharge rule.

Threads: :func:`load_order_context` reads the database (no network); run it on a worker
thread. It returns frozen data, no ORM objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from app.core.gateways import PaymentGateway
from app.core.gateways.repository import SavedMethods, StoredMethod
from app.core.payments.ledger import payable_invoices
from app.core.payments.summary import PayableInvoice, SurchargeSettings, load_surcharge_settings
from app.core.payments.surcharge_regions import organization_region
from app.core.storage.engine import session_scope
from app.core.storage.models import Contact, Organization

__all__ = ["ContactChoice", "OrderContext", "load_order_context"]

#: Said when no gateway is open and the caller gave no reason of its own.
NO_GATEWAY = "No payment gateway is connected yet. Run Setup… to connect your payment gateway."


@dataclass(frozen=True)
class ContactChoice:
    contact_id: int
    name: str
    email: str | None


@dataclass(frozen=True)
class OrderContext:
    """Everything the dialog needs before the first summary, read in one background task."""

    organization_id: int
    organization_name: str
    currency: str
    invoices: tuple[PayableInvoice, ...]
    contacts: tuple[ContactChoice, ...]
    methods: tuple[StoredMethod, ...]
    surcharge: SurchargeSettings
    problems: tuple[str, ...] = field(default_factory=tuple)
    #: The organization's state or province ("US-CT") for the surcharge rules; None when
    #: its Autotask address does not say.
    region: str | None = None


def load_order_context(
    engine: Engine,
    currency: str,
    organization_id: int,
    invoice_ids: Sequence[int],
    gateway: PaymentGateway | None,
    missing_gateway_text: str = "",
) -> OrderContext:
    """The invoices with their balances (and why any cannot be paid), the organization's
    name, active contacts (by name) and saved methods, and the surcharge rule.

    Without a ``gateway`` there are no saved methods and ``problems`` says why
    (``missing_gateway_text``, from :func:`~app.core.gateways.connection.describe_missing_gateway`).
    """
    with session_scope(engine) as s:
        org = s.get(Organization, organization_id)
        name = org.name if org is not None else f"Organization {organization_id}"
        region = organization_region(s, org) if org is not None else None
        invoices = payable_invoices(s, invoice_ids, currency)
        active = s.scalars(
            select(Contact)
            .where(Contact.organization_id == organization_id, Contact.is_active.is_(True))
        ).all()
        # Sorted here, not in SQL: SQLite and PostgreSQL put missing last names at opposite
        # ends, and the list must read the same at every seat.
        contacts = tuple(
            ContactChoice(
                c.id,
                " ".join(p for p in (c.first_name, c.last_name) if p) or (c.email or str(c.id)),
                c.email,
            )
            for c in sorted(active, key=lambda c: (
                (c.last_name or c.first_name or c.email or "").casefold(),
                (c.first_name or "").casefold(), c.id))
        )
    methods: tuple[StoredMethod, ...] = ()
    problems: list[str] = []
    if gateway is not None:
        saved = SavedMethods(engine, gateway)
        methods = tuple(saved.local(organization_id))
    else:
        problems.append(missing_gateway_text or NO_GATEWAY)
    return OrderContext(
        organization_id=organization_id,
        organization_name=name,
        currency=currency,
        invoices=tuple(invoices),
        contacts=contacts,
        methods=methods,
        surcharge=load_surcharge_settings(engine),
        problems=tuple(problems),
        region=region,
    )

