"""What PayDesk posts where, in words a bookkeeper checks: for every posting channel
(:mod:`app.core.posting.channels`) whether it is connected, what it is told about each
payment and refund, and what stops its deliveries now. The Settings area's Posting section
shows it.

Threads: database and keychain reads; call off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.posting.channels import ChannelDelivery, channels
from app.core.storage.engine import session_scope

__all__ = ["ChannelOverview", "QuickBooksOnlineChoices", "posting_overview",
           "quickbooks_online_choices"]


@dataclass(frozen=True, slots=True)
class ChannelOverview:
    name: str
    label: str
    connected: bool
    #: What each payment or refund becomes there ("Autotask note", …).
    targets: tuple[str, ...]
    #: How it is delivered, in words.
    delivery: str
    #: What stops deliveries now and what to do (None when nothing does).
    problem: str | None


@dataclass(frozen=True, slots=True)
class QuickBooksOnlineChoices:
    """How QuickBooks Online records PayDesk's payments (the connection's posting choices)."""

    company: str
    card_method: str
    bank_method: str
    surcharge_item: str
    #: Whether PayDesk has already found or made each in the company (ids remembered).
    card_method_known: bool
    bank_method_known: bool


def posting_overview(engine: Engine, credentials: CredentialStore) -> tuple[ChannelOverview, ...]:
    """Every registered channel: Autotask first, then the connected ones, then the rest."""
    rows: list[ChannelOverview] = []
    with session_scope(engine) as session:
        found = [(channel, channel.is_connected(session)) for channel in channels()]
    for channel, connected in found:
        delivery = ("PayDesk sends each posting as soon as the payment is recorded, and "
                    "retries until it lands." if channel.delivery is ChannelDelivery.PUSH
                    else "The QuickBooks Web Connector collects the postings when it runs.")
        rows.append(ChannelOverview(
            channel.name, channel.label, connected,
            tuple(dict.fromkeys(channel.targets.values())), delivery,
            channel.describe_missing(engine, credentials) if connected else None))
    rows.sort(key=lambda row: (row.name != "autotask", not row.connected, row.label))
    return tuple(rows)


def quickbooks_online_choices(engine: Engine) -> QuickBooksOnlineChoices | None:
    """QuickBooks Online's payment methods (chosen in Settings › Posting, else PayDesk's
    defaults) and surcharge item, or None when not connected."""
    from app.core.quickbooks.online.channel import (
        BANK_METHOD_NAME,
        CARD_METHOD_NAME,
        SURCHARGE_ITEM_NAME,
    )
    from app.core.quickbooks.online.connection import load_connection
    from app.core.quickbooks.payment_methods import load_online_methods

    connection = load_connection(engine)
    if connection is None:
        return None
    chosen = load_online_methods(engine)
    return QuickBooksOnlineChoices(
        company=connection.company_name or connection.realm_id,
        card_method=chosen.card.name if chosen.card else CARD_METHOD_NAME,
        bank_method=chosen.bank.name if chosen.bank else BANK_METHOD_NAME,
        surcharge_item=SURCHARGE_ITEM_NAME,
        card_method_known=(chosen.card is not None
                           or bool(connection.settings.get("card_method_id"))),
        bank_method_known=(chosen.bank is not None
                           or bool(connection.settings.get("bank_method_id"))),
    )
