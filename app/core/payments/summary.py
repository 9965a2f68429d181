"""Order-summary maths: what will be charged, and how it is spread over the invoices.

The Order Summary dialog renders :func:`compute_order_summary` and nothing else decides
amounts: the dialog passes the text the bookkeeper typed and gets back the allocation, the
surcharge, the total and a message per field. The function is pure (no database, no
network), so it is cheap to call on every keystroke and easy to test exhaustively.

Rules, in the words a bookkeeper would use:

* The amount to pay defaults to everything owed on the chosen invoices and may be lowered
  for a partial payment. It must be positive, in whole minor units (no half cents), within
  Autotask's bounds for a payment (more than 1 and less than 10,000,000 in the internal
  currency) and never more than is owed.
* With several invoices the amount goes to the oldest due first. Any invoice's share can be
  typed in; the rest of the amount is then spread oldest due first over the others.
* An invoice that is void, already paid, or part of another payment that is still running
  cannot be paid (``PayableInvoice.blocked_reason``; see :mod:`app.core.payments.ledger`).
* A surcharge, when switched on, is a percentage of the amount on **credit cards only** —
  never on bank debits, debit or prepaid cards, or a method whose funding is unknown —
  capped at 3 %, shown as its own line with its disclosure text. It is off by default.
  It is never added for an organization in a state or province where the MSP's list says
  surcharges are not allowed (``SurchargeSettings.not_allowed_in``; the organization's
  region comes from its Autotask address, :mod:`app.core.payments.surcharge_regions`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine

from app.core.config import current_actor, get_setting, set_setting
from app.core.money import InvalidAmountError, Money, currency_exponent
from app.core.payments.surcharge_regions import (
    DEFAULT_NOT_ALLOWED_IN,
    normalise_regions,
    region_name,
)

__all__ = [
    "AUTOTASK_MAX_EXCLUSIVE_MAJOR",
    "AUTOTASK_MIN_EXCLUSIVE_MAJOR",
    "MAX_SURCHARGE_PERCENT",
    "AllocationLine",
    "MethodInfo",
    "OrderSummary",
    "PayableInvoice",
    "SurchargeSettings",
    "compute_order_summary",
    "load_surcharge_settings",
    "oldest_due_first",
    "save_surcharge_settings",
    "surcharge_applies",
]

#: Autotask's payment window: more than 1 and less than 10,000,000 (internal currency).
AUTOTASK_MIN_EXCLUSIVE_MAJOR = 1
AUTOTASK_MAX_EXCLUSIVE_MAJOR = 10_000_000
#: Card-brand rules allow at most 3 % (Visa); PayDesk never charges more.
MAX_SURCHARGE_PERCENT = Decimal(3)

SURCHARGE_SETTING_KEY = "payments.surcharge"
DEFAULT_DISCLOSURE = (
    "A surcharge of {percent}% is added to payments by credit card. It is not greater than "
    "our cost of accepting credit cards. There is no surcharge for bank payments or debit "
    "cards."
)


@dataclass(frozen=True, slots=True)
class PayableInvoice:
    """An invoice as the Order Summary sees it.

    ``balance`` is what is still owed. ``blocked_reason`` is set when the invoice cannot be
    paid now (void, paid meanwhile, in another running payment), in words for the bookkeeper.
    """

    invoice_id: int
    invoice_number: str | None
    organization_id: int
    invoice_date: date | None
    due_date: date | None
    total: Money
    balance: Money
    blocked_reason: str | None = None

    @property
    def label(self) -> str:
        return f"Invoice {self.invoice_number or self.invoice_id}"


@dataclass(frozen=True, slots=True)
class MethodInfo:
    """What the surcharge rules need to know of the chosen payment method.

    ``method_type`` is ``"card"`` or ``"us_bank_account"``; ``funding`` is the card's
    ``credit`` / ``debit`` / ``prepaid`` / ``unknown`` (``None`` for bank accounts). Pay links
    and new methods pass ``None`` to :func:`compute_order_summary`: the client chooses the
    method on the gateway's page, so no surcharge can be disclosed in advance.
    """

    method_type: str
    funding: str | None = None


@dataclass(frozen=True, slots=True)
class SurchargeSettings:
    """The surcharge rule shared by every seat (stored in the database's settings)."""

    enabled: bool = False
    percent: Decimal = Decimal(0)
    disclosure: str = DEFAULT_DISCLOSURE
    #: Regions ("US-CT") where no surcharge is added, whatever the card.
    not_allowed_in: tuple[str, ...] = DEFAULT_NOT_ALLOWED_IN

    def allowed_in(self, region: str | None) -> bool:
        """Whether a surcharge may be added for an organization in ``region`` (None: the
        address does not say; then the list cannot forbid it)."""
        return region is None or region not in self.not_allowed_in

    def effective_percent(self) -> Decimal:
        """The percentage actually applied: 0 when off, never above 3 %."""
        if not self.enabled or self.percent <= 0:
            return Decimal(0)
        return min(self.percent, MAX_SURCHARGE_PERCENT)

    def disclosure_text(self) -> str:
        return self.disclosure.replace("{percent}", _percent_text(self.effective_percent()))


@dataclass(frozen=True, slots=True)
class AllocationLine:
    """One invoice in the summary and the share of the amount that goes to it.

    ``amount`` is ``None`` only when the share the bookkeeper typed could not be read
    (``error`` says why). ``edited`` is true when the bookkeeper typed this share.
    """

    invoice_id: int
    invoice_number: str | None
    due_date: date | None
    balance: Money
    amount: Money | None
    edited: bool = False
    error: str | None = None
    remaining_after: Money | None = None

    @property
    def label(self) -> str:
        return f"Invoice {self.invoice_number or self.invoice_id}"


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """Everything the Order Summary dialog shows, computed; Pay is enabled by ``can_pay``.

    Messages belong next to a field: ``amount_error`` by the amount, ``line.error`` by an
    invoice's share, ``invoices_error`` above the invoice table. ``warnings`` do not stop the
    payment (e.g. "leaves $120.00 owing on invoice 1045").
    """

    currency: str
    lines: tuple[AllocationLine, ...]
    amount: Money | None
    surcharge: Money
    surcharge_percent: Decimal
    surcharge_disclosure: str | None
    total: Money | None
    balance_total: Money
    amount_error: str | None = None
    invoices_error: str | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def subtotal(self) -> Money | None:
        return self.amount

    @property
    def error(self) -> str | None:
        """The first message that stops the payment, or ``None``."""
        if self.invoices_error:
            return self.invoices_error
        if self.amount_error:
            return self.amount_error
        for line in self.lines:
            if line.error:
                # Reasons that already name the invoice are not prefixed twice.
                if line.error.startswith(line.label):
                    return line.error
                return f"{line.label}: {line.error}"
        return None

    @property
    def can_pay(self) -> bool:
        return self.error is None and self.amount is not None and self.total is not None

    @property
    def allocations(self) -> tuple[tuple[int, Money], ...]:
        """``(invoice id, amount)`` for every invoice that receives money."""
        return tuple(
            (line.invoice_id, line.amount)
            for line in self.lines
            if line.amount is not None and line.amount.minor > 0
        )


# --------------------------------------------------------------------------------------------


def oldest_due_first(invoices: Sequence[PayableInvoice]) -> list[PayableInvoice]:
    """The order money is applied in: earliest due date, then invoice date, then id."""
    return sorted(
        invoices,
        key=lambda inv: (inv.due_date or date.max, inv.invoice_date or date.max, inv.invoice_id),
    )


def surcharge_applies(method: MethodInfo | None) -> bool:
    """Only credit cards may carry a surcharge; unknown funding counts as not credit."""
    return (
        method is not None
        and method.method_type == "card"
        and (method.funding or "").lower() == "credit"
    )


def compute_order_summary(
    invoices: Sequence[PayableInvoice],
    *,
    currency: str,
    amount: str | Money | None = None,
    allocation_edits: Mapping[int, str | Money] | None = None,
    method: MethodInfo | None = None,
    surcharge: SurchargeSettings | None = None,
    locale: str = "en_US",
    region: str | None = None,
) -> OrderSummary:
    """The Order Summary for these invoices.

    ``amount`` is what the bookkeeper typed (text is parsed in ``locale``), ``None`` for the
    default (everything owed). ``allocation_edits`` maps an invoice id to the share typed for
    it. ``region`` is the organization's ("US-CT", from ``OrderContext.region``): no
    surcharge where the rules do not allow one. Pure and fast: call it after every edit.
    """
    rules = surcharge or SurchargeSettings()
    zero = Money.zero(currency)
    ordered = oldest_due_first(invoices)
    edits = dict(allocation_edits or {})

    def fmt(m: Money) -> str:
        return m.format(locale)

    invoices_error: str | None = None
    if not ordered:
        invoices_error = "Choose at least one invoice to pay."
    elif len({inv.organization_id for inv in ordered}) > 1:
        invoices_error = "One payment can only pay invoices of one organization."
    elif any(inv.balance.currency != currency for inv in ordered):
        invoices_error = f"These invoices are not in {currency}, the internal currency."
    elif all(inv.blocked_reason for inv in ordered):
        invoices_error = (
            "None of these invoices can be paid now." if len(ordered) > 1 else None
        )

    payable = [inv for inv in ordered if not inv.blocked_reason]
    same_currency = invoices_error is None or not ordered or all(
        inv.balance.currency == currency for inv in ordered
    )
    owed = Money(sum(inv.balance.minor for inv in payable), currency) if same_currency else zero

    # --- the shares typed by the bookkeeper ------------------------------------------------
    line_errors: dict[int, str] = {}
    edited: dict[int, Money] = {}
    by_id = {inv.invoice_id: inv for inv in ordered}
    for invoice_id, raw in edits.items():
        inv = by_id.get(invoice_id)
        if inv is None or inv.blocked_reason:
            continue
        try:
            share = _read_amount(raw, currency, locale)
        except InvalidAmountError as exc:
            line_errors[invoice_id] = str(exc)
            continue
        if share.minor < 0:
            line_errors[invoice_id] = "Enter zero or a positive amount."
        elif share > inv.balance:
            line_errors[invoice_id] = (
                f"Only {fmt(inv.balance)} is owed on this invoice; it cannot be overpaid."
            )
        else:
            edited[invoice_id] = share

    unedited = [inv for inv in payable if inv.invoice_id not in edits]
    edited_sum = Money(sum(m.minor for m in edited.values()), currency)
    unedited_owed = Money(sum(inv.balance.minor for inv in unedited), currency)

    # --- the amount -------------------------------------------------------------------------
    amount_error: str | None = None
    value: Money | None
    if amount is None:
        value = edited_sum + unedited_owed if same_currency else None
    else:
        try:
            value = _read_amount(amount, currency, locale)
        except InvalidAmountError as exc:
            value = None
            amount_error = str(exc)
            if payable and _typed_more_than(amount, owed, locale):
                # "25,000.005": both things are wrong, and fixing only the decimals would
                # still leave an amount that cannot be paid.
                amount_error = (
                    f"{amount_error.rstrip('.')}. It is also more than the {fmt(owed)} owed "
                    "on these invoices; it cannot be overpaid."
                )
    if value is not None and amount_error is None and payable:
        amount_error = _amount_problem(value, owed, fmt)

    # --- spread the amount oldest due first over the invoices not typed in ------------------
    shares: dict[int, Money] = dict(edited)
    if value is not None and amount_error is None and not line_errors and payable:
        rest = value - edited_sum
        if rest.minor < 0:
            amount_error = (
                f"The invoice amounts add up to {fmt(edited_sum)}, more than the "
                f"{fmt(value)} to pay. Lower them or raise the amount."
            )
        elif rest > unedited_owed:
            if unedited:
                amount_error = (
                    f"The invoice amounts leave {fmt(rest)} to place, but only "
                    f"{fmt(unedited_owed)} is owed on the other invoices."
                )
            else:
                amount_error = (
                    f"The invoice amounts add up to {fmt(edited_sum)}, not the {fmt(value)} "
                    "to pay. Change an invoice amount or the amount to pay."
                )
        else:
            remaining = rest.minor
            for inv in unedited:
                take = min(remaining, inv.balance.minor)
                shares[inv.invoice_id] = Money(take, currency)
                remaining -= take

    lines: list[AllocationLine] = []
    warnings: list[str] = []
    for inv in ordered:
        if inv.blocked_reason:
            lines.append(
                AllocationLine(
                    inv.invoice_id, inv.invoice_number, inv.due_date, inv.balance,
                    Money.zero(inv.balance.currency), False, inv.blocked_reason,
                )
            )
            continue
        line_share = shares.get(inv.invoice_id)
        left = inv.balance - line_share if line_share is not None else None
        lines.append(
            AllocationLine(
                inv.invoice_id,
                inv.invoice_number,
                inv.due_date,
                inv.balance,
                line_share,
                inv.invoice_id in edits,
                line_errors.get(inv.invoice_id),
                left,
            )
        )
        if left is not None and line_share is not None and line_share.minor > 0 and left.minor > 0:
            warnings.append(f"Leaves {fmt(left)} owing on {inv.label.lower()}.")

    # --- surcharge and total ------------------------------------------------------------------
    allowed_here = rules.allowed_in(region)
    percent = (rules.effective_percent() if surcharge_applies(method) and allowed_here
               else Decimal(0))
    payable_amount = value if amount_error is None and not line_errors else None
    if payable_amount is not None and percent > 0:
        fee = payable_amount.percent(percent)
        disclosure: str | None = rules.disclosure_text()
    else:
        fee = zero
        disclosure = None
    if method is not None and rules.effective_percent() > 0 and percent == 0:
        if not allowed_here and surcharge_applies(method):
            warnings.append(f"No surcharge: surcharges are not allowed for clients in "
                            f"{region_name(region or '')}.")
        else:
            warnings.append("No surcharge: surcharges apply to credit cards only.")
    total = payable_amount + fee if payable_amount is not None else None

    return OrderSummary(
        currency=currency,
        lines=tuple(lines),
        amount=value,
        surcharge=fee,
        surcharge_percent=percent,
        surcharge_disclosure=disclosure,
        total=total,
        balance_total=owed,
        amount_error=amount_error,
        invoices_error=invoices_error,
        warnings=tuple(warnings),
    )


def _read_amount(raw: str | Money, currency: str, locale: str) -> Money:
    if isinstance(raw, Money):
        if raw.currency != currency:
            raise InvalidAmountError(f"Enter the amount in {currency}.")
        return raw
    return Money.parse(raw, currency, locale)


def _typed_more_than(raw: str | Money, owed: Money, locale: str) -> bool:
    """Whether the number typed (even one that is not a valid amount) exceeds ``owed``."""
    if isinstance(raw, Money):
        return False
    try:
        typed = Money.parse_decimal(raw, owed.currency, locale)
    except InvalidAmountError:
        return False
    return typed.is_finite() and typed > owed.to_decimal()


def _amount_problem(value: Money, owed: Money, fmt: Any) -> str | None:
    currency = value.currency
    if value.minor <= 0:
        return "Enter an amount greater than zero."
    low = Money(AUTOTASK_MIN_EXCLUSIVE_MAJOR * 10 ** currency_exponent(currency), currency)
    high = Money(AUTOTASK_MAX_EXCLUSIVE_MAJOR * 10 ** currency_exponent(currency), currency)
    if value > owed:
        return f"That is more than the {fmt(owed)} owed on these invoices; it cannot be overpaid."
    if value <= low:
        return f"Autotask only records payments of more than {fmt(low)}."
    if value >= high:
        return f"Autotask only records payments of less than {fmt(high)}."
    return None


def _percent_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


# --- settings -----------------------------------------------------------------------------------


def load_surcharge_settings(engine: Engine) -> SurchargeSettings:
    """The surcharge rule from the shared settings; off when never set."""
    return surcharge_settings_from(get_setting(engine, SURCHARGE_SETTING_KEY))


def surcharge_settings_from(raw: Any) -> SurchargeSettings:
    """The surcharge rule from its stored JSON (defaults for what is missing or unreadable)."""
    if not isinstance(raw, dict):
        return SurchargeSettings()
    try:
        percent = Decimal(str(raw.get("percent", "0")))
    except InvalidOperation:
        percent = Decimal(0)
    regions = raw.get("not_allowed_in")
    return SurchargeSettings(
        enabled=bool(raw.get("enabled", False)),
        percent=min(max(percent, Decimal(0)), MAX_SURCHARGE_PERCENT),
        disclosure=str(raw.get("disclosure") or DEFAULT_DISCLOSURE),
        not_allowed_in=(normalise_regions(str(r) for r in regions)
                        if isinstance(regions, list) else DEFAULT_NOT_ALLOWED_IN),
    )


def save_surcharge_settings(
    engine: Engine, settings: SurchargeSettings, actor: str | None = None
) -> None:
    """Store the surcharge rule for every seat. Refuses more than 3 % or less than 0."""
    if settings.percent < 0 or settings.percent > MAX_SURCHARGE_PERCENT:
        raise ValueError(
            f"A surcharge can be at most {MAX_SURCHARGE_PERCENT}% (card-brand rules)."
        )
    if settings.enabled and not settings.disclosure.strip():
        raise ValueError("A surcharge needs its disclosure text.")
    unknown = set(settings.not_allowed_in) - set(normalise_regions(settings.not_allowed_in))
    if unknown:
        raise ValueError(f"Unknown state or province: {', '.join(sorted(unknown))}.")
    set_setting(
        engine,
        SURCHARGE_SETTING_KEY,
        {
            "enabled": settings.enabled,
            "percent": str(settings.percent),
            "disclosure": settings.disclosure,
            "not_allowed_in": list(normalise_regions(settings.not_allowed_in)),
        },
        actor=actor or current_actor(),
    )
