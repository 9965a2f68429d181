"""Which QuickBooks payment method PayDesk records card payments and bank payments with — the
bookkeeper's choice in Settings › Posting, one shared setting per QuickBooks:

* ``quickbooks_online.payment_methods``: ``{"card": {"id", "name"} | null, "bank": …}``. A
  method chosen from the company's PaymentMethod list is kept by its QuickBooks id (and name,
  to say which it was). ``null`` is PayDesk's default: "Credit Card" / "ACH", found by name or
  created the first time they are needed (:mod:`app.core.quickbooks.online.channel`). A chosen
  method that is no longer in QuickBooks (deleted, made inactive) is never swapped for
  another: the posting fails for a person with a message saying what to choose.
* ``quickbooks_desktop.payment_methods``: ``{"card": name, "bank": name}``, the Payment Method
  list entry's name sent as ``PaymentMethodRef/FullName`` in the ReceivePaymentAdd. An empty
  name is PayDesk's default there: no payment method, as QuickBooks Desktop allows. Each Web
  Connector update keeps the company file's Payment Method list in
  ``quickbooks_desktop.payment_method_list`` (not audited: PayDesk's own record), from which
  Settings › Posting offers and checks the names.

Both are changed through :func:`app.core.config.set_setting` (audited).

Threads: database (and, for :func:`list_online_methods`, network) calls; call off the GUI
thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from app.core.config import get_setting, set_setting

__all__ = [
    "DEFAULT_BANK_METHOD",
    "DEFAULT_CARD_METHOD",
    "DESKTOP_LIST_SETTING",
    "DESKTOP_MAX_NAME",
    "DESKTOP_SETTING",
    "ONLINE_SETTING",
    "DesktopMethodList",
    "DesktopMethods",
    "OnlineMethod",
    "OnlineMethods",
    "is_bank_method",
    "list_online_methods",
    "load_desktop_method_list",
    "load_desktop_methods",
    "load_online_methods",
    "normalise_desktop_methods",
    "save_desktop_methods",
    "save_online_methods",
    "store_desktop_method_list",
]

ONLINE_SETTING = "quickbooks_online.payment_methods"
DESKTOP_SETTING = "quickbooks_desktop.payment_methods"
#: The company file's Payment Method list as the Web Connector last read it (PayDesk's own
#: bookkeeping: not audited, no person sets it).
DESKTOP_LIST_SETTING = "quickbooks_desktop.payment_method_list"
#: PayDesk's QuickBooks Online defaults (found by name, or created, on first use).
DEFAULT_CARD_METHOD = "Credit Card"
DEFAULT_BANK_METHOD = "ACH"
#: QuickBooks Desktop keeps at most 31 characters of a payment method's name.
DESKTOP_MAX_NAME = 31


def is_bank_method(method_type: str) -> bool:
    """Whether a payment's method type (``card``, ``us_bank_account``, …) is a bank payment."""
    return method_type in ("us_bank_account", "bank", "ach")


@dataclass(frozen=True, slots=True)
class OnlineMethod:
    """A QuickBooks Online PaymentMethod."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class OnlineMethods:
    """The chosen methods; None is PayDesk's default ("Credit Card" / "ACH")."""

    card: OnlineMethod | None = None
    bank: OnlineMethod | None = None

    def for_type(self, method_type: str) -> OnlineMethod | None:
        return self.bank if is_bank_method(method_type) else self.card


def _online_method(value: Any) -> OnlineMethod | None:
    if isinstance(value, dict) and value.get("id"):
        return OnlineMethod(str(value["id"]), str(value.get("name") or value["id"]))
    return None


def load_online_methods(engine: Engine) -> OnlineMethods:
    stored = get_setting(engine, ONLINE_SETTING, None)
    if not isinstance(stored, dict):
        return OnlineMethods()
    return OnlineMethods(_online_method(stored.get("card")), _online_method(stored.get("bank")))


def save_online_methods(engine: Engine, methods: OnlineMethods, actor: str | None = None
                        ) -> None:
    def plain(method: OnlineMethod | None) -> dict[str, str] | None:
        if method is None:
            return None
        if not method.id.strip():
            raise ValueError("Choose a payment method from the QuickBooks list.")
        return {"id": method.id, "name": method.name}

    set_setting(engine, ONLINE_SETTING,
                {"card": plain(methods.card), "bank": plain(methods.bank)}, actor)


def list_online_methods(client: Any) -> tuple[OnlineMethod, ...]:
    """The company's active payment methods, by name (``client``: a
    :class:`~app.core.quickbooks.online.client.QuickBooksOnlineClient`)."""
    found: list[OnlineMethod] = []
    for _start, page in client.query_all("PaymentMethod", "Active = true"):
        found.extend(OnlineMethod(str(row["Id"]), str(row.get("Name") or row["Id"]))
                     for row in page if row.get("Active", True))
    return tuple(sorted(found, key=lambda m: (m.name.casefold(), m.id)))


@dataclass(frozen=True, slots=True)
class DesktopMethods:
    """Payment method names for QuickBooks Desktop; "" records none (PayDesk's default)."""

    card: str = ""
    bank: str = ""

    def for_type(self, method_type: str) -> str:
        return self.bank if is_bank_method(method_type) else self.card


def _desktop_name(value: object, which: str) -> str:
    name = " ".join(str(value or "").split())
    if len(name) > DESKTOP_MAX_NAME:
        raise ValueError(f"The {which} payment method name is {len(name)} characters long; "
                         f"QuickBooks Desktop keeps at most {DESKTOP_MAX_NAME}. Type the name "
                         "exactly as it is in QuickBooks' Payment Method list.")
    return name


def load_desktop_methods(engine: Engine) -> DesktopMethods:
    stored = get_setting(engine, DESKTOP_SETTING, None)
    if not isinstance(stored, dict):
        return DesktopMethods()
    return DesktopMethods(" ".join(str(stored.get("card") or "").split()),
                          " ".join(str(stored.get("bank") or "").split()))


def normalise_desktop_methods(methods: DesktopMethods) -> DesktopMethods:
    """The names as they are stored (spaces tidied), or ValueError saying what to change."""
    return DesktopMethods(_desktop_name(methods.card, "card"),
                          _desktop_name(methods.bank, "bank"))


def save_desktop_methods(engine: Engine, methods: DesktopMethods, actor: str | None = None
                         ) -> None:
    clean = normalise_desktop_methods(methods)
    set_setting(engine, DESKTOP_SETTING, {"card": clean.card, "bank": clean.bank}, actor)


@dataclass(frozen=True, slots=True)
class DesktopMethodList:
    """The Payment Method list's names and when the Web Connector read them."""

    names: tuple[str, ...]
    read_at: datetime


def store_desktop_method_list(engine: Engine, names: Sequence[str], read_at: datetime) -> None:
    set_setting(engine, DESKTOP_LIST_SETTING,
                {"names": list(names), "read_at": read_at.isoformat()},
                "QuickBooks Web Connector", audit=False)


def load_desktop_method_list(engine: Engine) -> DesktopMethodList | None:
    """None until a Web Connector update has read the list."""
    stored = get_setting(engine, DESKTOP_LIST_SETTING, None)
    if not isinstance(stored, dict) or not isinstance(stored.get("names"), list):
        return None
    try:
        read_at = datetime.fromisoformat(str(stored.get("read_at")))
    except ValueError:
        return None
    return DesktopMethodList(tuple(str(n) for n in stored["names"]), read_at)
