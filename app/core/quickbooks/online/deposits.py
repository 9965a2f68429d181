"""Where payments PayDesk records in QuickBooks Online are deposited.

QuickBooks books a received payment to the account named in ``DepositToAccountRef``; without
one it goes to **Undeposited Funds**, where the bookkeeper groups the day's payments into a
bank deposit (QuickBooks' *Bank Deposit* screen) — the right default for most MSPs, whose
processor pays out in batches. A company whose processor deposits each payment on its own
may choose its bank account instead. The choice is kept with the QuickBooks Online
connection (``deposit_account_id``), shared by every seat, and used by the posting channel
(:mod:`app.core.quickbooks.online.channel`) for every payment and surcharge after it.

Threads: :func:`deposit_accounts` reads QuickBooks (network); the others read or write the
database. Call them off the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from app.core.credentials import CredentialStore
from app.core.quickbooks.online.connection import load_connection, save_connection

__all__ = [
    "UNDEPOSITED_FUNDS",
    "DepositAccount",
    "choose_deposit_account",
    "deposit_account_id",
    "deposit_accounts",
]

#: The account types a payment can be deposited to.
_DEPOSIT_TYPES = ("Bank", "Other Current Asset")


@dataclass(frozen=True, slots=True)
class DepositAccount:
    """An account a payment can go to. ``id`` empty: QuickBooks' own default."""

    id: str
    name: str
    kind: str = ""


UNDEPOSITED_FUNDS = DepositAccount("", "Undeposited Funds (QuickBooks' default)")


def deposit_accounts(engine: Engine, credentials: CredentialStore) -> list[DepositAccount]:
    """The default, then the company's active bank and other current asset accounts by
    name. Raises the client's errors (with a plain ``message``) when QuickBooks cannot be
    read; raises ``LookupError`` when QuickBooks Online is not connected."""
    from app.core.quickbooks.online.setup import describe_missing_connection, open_quickbooks_client

    client = open_quickbooks_client(engine, credentials)
    if client is None:
        raise LookupError(describe_missing_connection(engine, credentials)
                          or "QuickBooks Online is not connected.")
    try:
        kinds = ", ".join(f"'{kind}'" for kind in _DEPOSIT_TYPES)
        found = [
            DepositAccount(str(row.get("Id")), str(row.get("Name") or ""),
                           str(row.get("AccountType") or ""))
            for _start, page in client.query_all("Account", f"AccountType IN ({kinds})")
            for row in page
            if row.get("Active", True) and row.get("AccountSubType") != "UndepositedFunds"
        ]
    finally:
        client.close()
    return [UNDEPOSITED_FUNDS, *sorted(found, key=lambda a: a.name.lower())]


def deposit_account_id(engine: Engine) -> str:
    """The chosen account's id ("" for Undeposited Funds, or when not connected)."""
    connection = load_connection(engine)
    return connection.settings.get("deposit_account_id", "") if connection is not None else ""


def choose_deposit_account(engine: Engine, account_id: str, *, actor: str | None = None
                           ) -> None:
    """Deposit every payment recorded from now on to ``account_id`` ("" for the default)."""
    connection = load_connection(engine)
    if connection is None:
        raise LookupError("QuickBooks Online is not connected.")
    save_connection(engine, connection.with_settings(deposit_account_id=account_id),
                    actor=actor)
