"""Per-entity sync specifications: which Autotask fields are read, how a record becomes a
row of the local table, and how changes are found.

Converters are plain functions over the JSON dict (no ORM objects — a first sync moves
hundreds of thousands of records) that return a dict of column values ready for a bulk
upsert: datetimes as naive UTC (the storage type's representation), exact decimals as
canonical text, money as integer minor units of the internal currency. A record that cannot
be stored raises `InvalidRecord` with a reason a bookkeeper can read; the sync quarantines it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Table

from app.core.autotask.dates import AutotaskDateError, parse_autotask_datetime
from app.core.invoice_state import derive
from app.core.money import LINE_AMOUNT_PLACES, currency_exponent
from app.core.storage.models import (
    Contact,
    Contract,
    Invoice,
    InvoiceLine,
    Organization,
    PaymentTerm,
    Ticket,
)

Record = Mapping[str, Any]
Row = dict[str, Any]


class InvalidRecord(ValueError):
    """A record from Autotask that fails validation; ``reason`` says why in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChangeMode(enum.StrEnum):
    TRACKED = "tracked"  # has modified-time fields: filter on them plus new ids
    INVOICES = "invoices"  # no modified field: new ids, paid/voided dates, open-set check
    SMALL = "small"  # a handful of records: read all of them every time


@dataclass(frozen=True, slots=True)
class ConvertContext:
    """What converters need besides the record."""

    currency_exponent: int
    currency: str = ""

    @classmethod
    def for_currency(cls, code: str) -> ConvertContext:
        return cls(currency_exponent(code), code.upper())


#: Whole numbers the database columns hold: ``Integer`` (32-bit on PostgreSQL) and
#: ``BigInteger`` (64-bit on both engines).
INT32 = 2**31
INT64 = 2**63
#: The largest amount PayDesk accepts, in major units of the currency. Far above any real
#: invoice, low enough that sums over many invoices never overflow a 64-bit column or
#: SQLite's integer arithmetic.
MAX_AMOUNT = 10**12
#: Decimal digits before the point of an amount below `MAX_AMOUNT` (``Decimal.adjusted()``
#: is at most this minus one).
_AMOUNT_DIGITS = 12
#: An invoice line's amount in whole units of this (`LINE_AMOUNT_PLACES`).
#: Numbers (quantities, rates) with more whole digits than this are refused.
MAX_DIGITS = 15
#: Dates outside these years are not plausible business dates (Autotask stores nothing
#: before 1753; a due date in the year 9999 is a typing slip, not a plan).
MIN_YEAR = 1900
MAX_YEAR = 2199


Converter = Callable[[Record, ConvertContext], Row]


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """How one Autotask entity is mirrored into one local table."""

    entity: str  # Autotask's name: "Companies"
    label: str  # what a bookkeeper calls it: "Organizations"
    model: type[Any]
    fields: tuple[str, ...]  # IncludeFields: only what is stored (and change tracking)
    convert: Converter
    mode: ChangeMode
    #: Autotask change-tracking fields (incremental filter) and the local column whose
    #: maximum is the data's own watermark (None: the clock at the start of the last pass).
    tracking_fields: tuple[str, ...] = ()
    watermark_column: str | None = None
    #: Columns compared to decide whether a stored row changed (all stored Autotask data).
    compare_columns: tuple[str, ...] = ()

    @property
    def table(self) -> Table:
        return self.model.__table__  # type: ignore[no-any-return]

    @property
    def table_name(self) -> str:
        return str(self.model.__tablename__)


# --------------------------------------------------------------------------- value readers

_WORDS = {
    "companyID": "the organization", "invoiceTotal": "the invoice total",
    "totalTaxValue": "the invoice tax", "invoiceDateTime": "the invoice date",
    "createDateTime": "the date the invoice was created", "dueDate": "the due date",
    "fromDate": "the period start", "toDate": "the period end", "paidDate": "the paid date",
    "voidedDate": "the void date", "isVoided": "the void flag", "paymentTerm": "the payment term",
    "batchID": "the invoice batch", "totalAmount": "the line total",
    "extendedPrice": "the line amount", "taxDollars": "the line tax", "quantity": "the quantity",
    "rate": "the rate", "invoiceID": "the invoice", "postedDate": "the posting date",
    "itemDate": "the item date", "startDate": "the start date", "endDate": "the end date",
    "isActive": "the active flag", "status": "the status", "priority": "the priority",
    "createDate": "the date it was created", "companyType": "the organization type",
}


def _word(name: str) -> str:
    """A field as a bookkeeper would name it, with Autotask's name for support."""
    word = _WORDS.get(name)
    return f"{word[0].upper()}{word[1:]} ({name})" if word else f"The field {name}"



def record_id(record: Record) -> int:
    value = record.get("id")
    if type(value) is int and 0 < value < INT64:
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 20 and 0 < int(value) < INT64:
        return int(value)
    raise InvalidRecord("the record has no valid id")


def _opt_int(record: Record, name: str, bound: int = INT64) -> int | None:
    """A whole number that fits its column (``bound``: INT32 or INT64)."""
    value = record.get(name)
    if type(value) is int and -bound <= value < bound:
        return value  # the usual case, without the checks below
    if value is None:
        return None
    number: int | None = None
    if type(value) is int:
        number = value
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        number = int(value) if abs(value.adjusted()) < 40 else None
        if number is None:
            raise InvalidRecord(f"{_word(name)} is far too large ({value})")
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.lstrip("-").isdigit() and len(text) < 40:
            number = int(text)
    if number is None:
        raise InvalidRecord(f"{_word(name)} is not a whole number ({_shown(value)})")
    if not -bound <= number < bound:
        raise InvalidRecord(f"{_word(name)} is far too large ({number})")
    return number


def _req_int(record: Record, name: str) -> int:
    value = _opt_int(record, name)
    if value is None:
        raise InvalidRecord(f"{_word(name)} is missing")
    return value


def _opt_str(record: Record, name: str, limit: int) -> str | None:
    value = record.get(name)
    if type(value) is str and len(value) <= limit and value.isascii() and "\x00" not in value:
        return value  # the usual case, without the checks below
    if value is None:
        return None
    if type(value) is not str:
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            value = str(value)
        else:
            raise InvalidRecord(f"{_word(name)} is not text ({_shown(value)})")
    value = value[:limit]
    if "\x00" in value:
        raise InvalidRecord(f"{_word(name)} contains a NUL character (an invisible control "
                            "character no database can store)")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRecord(f"{_word(name)} contains a broken character (half of an "
                                "emoji or other symbol) that cannot be stored") from None
    return value


def _req_str(record: Record, name: str, limit: int, what: str) -> str:
    value = _opt_str(record, name, limit)
    if value is None or not value.strip():
        raise InvalidRecord(f"{what} is missing")
    return value


def _bool(record: Record, name: str, default: bool) -> bool:
    value = record.get(name)
    if value is None:
        return default
    if value is True or value is False:
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise InvalidRecord(f"{_word(name)} is not true or false ({value!r})")


def _opt_datetime(record: Record, name: str) -> datetime | None:
    """An instant as naive UTC (the representation of the UTCDateTime column)."""
    value = record.get(name)
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise InvalidRecord(f"{_word(name)} is not a date and time ({_shown(value)})")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None  # 7 fractional digits and other shapes: the careful parser below
    if parsed is None:
        try:
            careful = parse_autotask_datetime(value)
        except (AutotaskDateError, OverflowError):
            raise InvalidRecord(
                f"{_word(name)} is not a date and time ({_shown(value)})") from None
        assert careful is not None
        parsed = careful.replace(tzinfo=None)
    elif parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            raise InvalidRecord(
                f"{_word(name)} is not a plausible date ({_shown(value)})") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise InvalidRecord(f"{_word(name)} is not a plausible date ({_shown(value)})")
    return parsed


def _opt_date(record: Record, name: str) -> date | None:
    """A calendar date: the date part as written (Autotask keeps date-only values at midnight)."""
    value = record.get(name)
    if value is None or value == "":
        return None
    if type(value) is not str or len(value) < 10:
        raise InvalidRecord(f"{_word(name)} is not a date ({_shown(value)})")
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        raise InvalidRecord(f"{_word(name)} is not a date ({_shown(value)})") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise InvalidRecord(f"{_word(name)} is not a plausible date ({_shown(value)})")
    return day


def _number(value: Any, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidRecord(f"{_word(name)} is not a number ({_shown(value)})")
    if isinstance(value, Decimal):
        number = value
    elif type(value) is int:
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidRecord(f"{_word(name)} is not a number ({_shown(value)})") from None
    else:
        raise InvalidRecord(f"{_word(name)} is not a number ({_shown(value)})")
    if not number.is_finite():
        raise InvalidRecord(f"{_word(name)} is not a number ({_shown(value)})")
    if number.adjusted() >= MAX_DIGITS:
        raise InvalidRecord(f"{_word(name)} is far too large ({_shown(value)})")
    return number


def _scaled_exactly(value: object, places: int) -> int | None:
    """The usual amount, quickly: a Decimal or whole number within bounds that is a whole
    number of ``10**-places`` units, as that number; None for anything else (the full
    checks then decide, and say what is wrong)."""
    if type(value) is Decimal and value.is_finite() and value.adjusted() < _AMOUNT_DIGITS:
        scaled = value.scaleb(places)
        whole = int(scaled)
        return whole if whole == scaled else None
    if type(value) is int and -MAX_AMOUNT < value < MAX_AMOUNT:
        scale: int = 10**places
        return value * scale
    return None


def _money(record: Record, name: str, ctx: ConvertContext, *, required: bool) -> int:
    """An amount in the internal currency as integer minor units — exactly, or not at all.

    An amount with more decimal places than the currency has (12.345678 or 0.001 in US
    dollars) is refused, never rounded: a bookkeeper must not be shown a total Autotask
    does not hold. So is an amount beyond `MAX_AMOUNT`.
    """
    value = record.get(name)
    # The usual cases first: an amount within bounds with no more places than the currency.
    quick = _scaled_exactly(value, ctx.currency_exponent)
    if quick is not None:
        return quick
    if type(value) is int:
        number: Decimal | None = Decimal(value)
    else:
        number = _number(value, name)
    if number is None:
        if required:
            raise InvalidRecord(f"{_word(name)} is missing")
        return 0
    if abs(number) >= MAX_AMOUNT:
        raise InvalidRecord(f"{_word(name)} is far too large ({_shown(value)})")
    minor = number.scaleb(ctx.currency_exponent)
    whole = minor.to_integral_value(ROUND_HALF_EVEN)
    if minor != whole:
        currency = ctx.currency or "the internal currency"
        places = ctx.currency_exponent
        raise InvalidRecord(
            f"{_word(name)} is {number}, which has more decimal places than {currency} "
            f"has ({places}); PayDesk does not round amounts")
    return int(whole)


def _line_money(record: Record, name: str, *, required: bool) -> int:
    """An invoice line's amount exactly, as integer ten-thousandths of the major unit
    (`LINE_AMOUNT_PLACES`): a four-decimal unit price times a quantity (37.0368) is kept as
    Autotask holds it. More places than that, or an amount beyond `MAX_AMOUNT`, is refused,
    never rounded."""
    value = record.get(name)
    # The usual cases first: an amount within bounds with at most four places.
    quick = _scaled_exactly(value, LINE_AMOUNT_PLACES)
    if quick is not None:
        return quick
    number = Decimal(value) if type(value) is int else _number(value, name)
    if number is None:
        if required:
            raise InvalidRecord(f"{_word(name)} is missing")
        return 0
    if abs(number) >= MAX_AMOUNT:
        raise InvalidRecord(f"{_word(name)} is far too large ({_shown(value)})")
    scaled = number.scaleb(LINE_AMOUNT_PLACES)
    whole = scaled.to_integral_value(ROUND_HALF_EVEN)
    if scaled != whole:
        raise InvalidRecord(
            f"{_word(name)} is {number}, which has more than {LINE_AMOUNT_PLACES} decimal "
            "places; PayDesk does not round amounts")
    return int(whole)


def _shown(value: Any) -> str:
    """A value as a reason shows it: short, and without characters that cannot be stored."""
    text = repr(value) if not isinstance(value, Decimal) else str(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text if len(text) <= 80 else f"{text[:77]}..."


def _decimal_text(record: Record, name: str) -> str | None:
    value = record.get(name)
    if type(value) is Decimal and value.is_finite() and value.adjusted() < MAX_DIGITS:
        return str(value)  # the usual case, without the checks of `_number`
    number = _number(value, name)
    return None if number is None else str(number)


# --------------------------------------------------------------------------- converters


def convert_company(r: Record, ctx: ConvertContext) -> Row:
    return {
        "id": record_id(r),
        "name": _req_str(r, "companyName", 255, "the company name"),
        "company_type": _opt_int(r, "companyType", INT32),
        "is_active": _bool(r, "isActive", True),
        "phone": _opt_str(r, "phone", 50),
        "address1": _opt_str(r, "address1", 255),
        "address2": _opt_str(r, "address2", 255),
        "city": _opt_str(r, "city", 100),
        "state": _opt_str(r, "state", 100),
        "postal_code": _opt_str(r, "postalCode", 20),
        "country": _opt_str(r, "countryID", 100),
        "owner_resource_id": _opt_int(r, "ownerResourceID"),
        "currency_id": _opt_int(r, "currencyID"),
        "last_modified": _opt_datetime(r, "lastTrackedModifiedDateTime"),
        "last_activity": _opt_datetime(r, "lastActivityDate"),
    }


def convert_contact(r: Record, ctx: ConvertContext) -> Row:
    return {
        "id": record_id(r),
        "organization_id": _req_int(r, "companyID"),
        "first_name": _opt_str(r, "firstName", 100),
        "last_name": _opt_str(r, "lastName", 100),
        "email": _opt_str(r, "emailAddress", 255),
        "phone": _opt_str(r, "phone", 50),
        "is_active": _bool(r, "isActive", True),
        "last_modified": _opt_datetime(r, "lastModifiedDate"),
    }


def convert_contract(r: Record, ctx: ConvertContext) -> Row:
    return {
        "id": record_id(r),
        "organization_id": _req_int(r, "companyID"),
        "name": _req_str(r, "contractName", 255, "the contract name"),
        "status": _opt_int(r, "status", INT32),
        "contract_type": _opt_int(r, "contractType", INT32),
        "start_date": _opt_date(r, "startDate"),
        "end_date": _opt_date(r, "endDate"),
        "last_modified": _opt_datetime(r, "lastModifiedDateTime"),
    }


def convert_ticket(r: Record, ctx: ConvertContext) -> Row:
    return {
        "id": record_id(r),
        "organization_id": _req_int(r, "companyID"),
        "ticket_number": _opt_str(r, "ticketNumber", 50),
        "title": _opt_str(r, "title", 255),
        "status": _opt_int(r, "status", INT32),
        "priority": _opt_int(r, "priority", INT32),
        "created_at": _opt_datetime(r, "createDate"),
        "last_modified": _opt_datetime(r, "lastTrackedModificationDateTime"),
        "last_activity": _opt_datetime(r, "lastActivityDate"),
    }


def convert_payment_term(r: Record, ctx: ConvertContext) -> Row:
    return {
        "id": record_id(r),
        "name": _req_str(r, "name", 100, "the payment term name"),
        "description": _opt_str(r, "description", 255),
        "is_active": _bool(r, "isActive", True),
        "due_in_days": _opt_int(r, "paymentDueInDays", INT32),
    }


def convert_invoice(r: Record, ctx: ConvertContext) -> Row:
    total = _money(r, "invoiceTotal", ctx, required=True)
    is_voided = _bool(r, "isVoided", False)
    paid_date = _opt_date(r, "paidDate")
    # Derived state with no PayDesk allocations; the writer recomputes the few invoices
    # that have allocations (app.core.invoice_state stays the one place for the rules).
    amount_paid, balance, status = derive(
        total_minor=total, is_voided=is_voided, paid_date=paid_date, ledger_paid_minor=0
    )
    return {
        "id": record_id(r),
        "organization_id": _req_int(r, "companyID"),
        "invoice_number": _req_str(r, "invoiceNumber", 50, "the invoice number"),
        "batch_id": _opt_int(r, "batchID"),
        "invoice_date": _opt_date(r, "invoiceDateTime"),
        "created_at": _opt_datetime(r, "createDateTime"),
        "due_date": _opt_date(r, "dueDate"),
        "from_date": _opt_date(r, "fromDate"),
        "to_date": _opt_date(r, "toDate"),
        "payment_term_id": _opt_int(r, "paymentTerm"),
        "total_minor": total,
        "tax_minor": _money(r, "totalTaxValue", ctx, required=False),
        "is_voided": is_voided,
        "voided_date": _opt_datetime(r, "voidedDate"),
        "paid_date": paid_date,
        "web_service_date": _opt_datetime(r, "webServiceDate"),
        "order_number": _opt_str(r, "orderNumber", 100),
        "comments": _opt_str(r, "comments", 100_000),
        "tax_region_name": _opt_str(r, "taxRegionName", 100),
        "amount_paid_minor": amount_paid,
        "balance_minor": balance,
        "status": status.value,
        "last_payment_date": paid_date,
    }


def convert_billing_item(r: Record, ctx: ConvertContext) -> Row:
    description = _opt_str(r, "description", 100_000)
    if description is None:
        description = _opt_str(r, "itemName", 100_000)
    return {
        "id": record_id(r),
        "invoice_id": _opt_int(r, "invoiceID"),
        "organization_id": _opt_int(r, "companyID"),
        "contract_id": _opt_int(r, "contractID"),
        "ticket_id": _opt_int(r, "ticketID"),
        "item_date": _opt_datetime(r, "itemDate"),
        "posted_date": _opt_datetime(r, "postedDate"),
        "item_type": _opt_int(r, "billingItemType", INT32),
        "description": description,
        "quantity": _decimal_text(r, "quantity"),
        "rate": _decimal_text(r, "rate"),
        "extended_price_e4": _line_money(r, "extendedPrice", required=False),
        "tax_e4": _line_money(r, "taxDollars", required=False),
        "total_e4": _line_money(r, "totalAmount", required=True),
    }


# --------------------------------------------------------------------------- the specs

INVOICE_DERIVED = ("amount_paid_minor", "balance_minor", "status", "last_payment_date")


def _spec(
    entity: str,
    label: str,
    model: type[Any],
    fields: tuple[str, ...],
    convert: Converter,
    mode: ChangeMode,
    tracking_fields: tuple[str, ...] = (),
    watermark_column: str | None = None,
    derived: tuple[str, ...] = (),
) -> EntitySpec:
    sample = convert(_SAMPLES[entity], ConvertContext(2))
    compare = tuple(c for c in sample if c != "id" and c not in derived)
    return EntitySpec(entity, label, model, fields, convert, mode, tracking_fields,
                      watermark_column, compare)


_SAMPLES: dict[str, Record] = {
    "Companies": {"id": 1, "companyName": "x"},
    "Contacts": {"id": 1, "companyID": 1},
    "Contracts": {"id": 1, "companyID": 1, "contractName": "x"},
    "Tickets": {"id": 1, "companyID": 1},
    "PaymentTerms": {"id": 1, "name": "x"},
    "Invoices": {"id": 1, "companyID": 1, "invoiceTotal": 1, "invoiceNumber": "1"},
    "BillingItems": {"id": 1, "totalAmount": 1},
}

SPECS: tuple[EntitySpec, ...] = (
    _spec(
        "Companies", "Organizations", Organization,
        ("id", "companyName", "companyType", "isActive", "phone", "address1", "address2",
         "city", "state", "postalCode", "countryID", "ownerResourceID", "currencyID",
         "lastTrackedModifiedDateTime", "lastActivityDate"),
        convert_company, ChangeMode.TRACKED,
        ("lastTrackedModifiedDateTime", "lastActivityDate"), "last_modified",
    ),
    _spec(
        "Contacts", "Contacts", Contact,
        ("id", "companyID", "firstName", "lastName", "emailAddress", "phone", "isActive",
         "lastModifiedDate"),
        convert_contact, ChangeMode.TRACKED, ("lastModifiedDate",), "last_modified",
    ),
    _spec(
        "Contracts", "Contracts", Contract,
        ("id", "companyID", "contractName", "status", "contractType", "startDate", "endDate",
         "lastModifiedDateTime"),
        convert_contract, ChangeMode.TRACKED, ("lastModifiedDateTime",), "last_modified",
    ),
    _spec(
        "Tickets", "Tickets", Ticket,
        ("id", "companyID", "ticketNumber", "title", "status", "priority", "createDate",
         "lastTrackedModificationDateTime", "lastActivityDate"),
        convert_ticket, ChangeMode.TRACKED,
        ("lastTrackedModificationDateTime", "lastActivityDate"), "last_modified",
    ),
    _spec(
        "Invoices", "Invoices", Invoice,
        ("id", "companyID", "invoiceNumber", "batchID", "invoiceDateTime", "createDateTime",
         "dueDate", "fromDate", "toDate", "paymentTerm", "invoiceTotal", "totalTaxValue",
         "isVoided", "voidedDate", "paidDate", "webServiceDate", "orderNumber", "comments",
         "taxRegionName"),
        convert_invoice, ChangeMode.INVOICES, derived=INVOICE_DERIVED,
    ),
    _spec(
        "BillingItems", "Invoice lines", InvoiceLine,
        ("id", "invoiceID", "companyID", "contractID", "ticketID", "itemDate", "postedDate",
         "billingItemType", "description", "itemName", "quantity", "rate", "extendedPrice",
         "taxDollars", "totalAmount"),
        # postedDate is when an item was posted (a whole month's items share one), not a
        # modification time: its watermark is the clock at the previous pass (`None` here).
        convert_billing_item, ChangeMode.TRACKED, ("postedDate",), None,
    ),
    _spec(
        "PaymentTerms", "Payment terms", PaymentTerm,
        ("id", "name", "description", "isActive", "paymentDueInDays"),
        convert_payment_term, ChangeMode.SMALL,
    ),
)

SPECS_BY_ENTITY: dict[str, EntitySpec] = {s.entity: s for s in SPECS}
SPECS_BY_TABLE: dict[str, EntitySpec] = {s.table_name: s for s in SPECS}

#: The picklists PayDesk shows, as (Autotask entity, field).
PICKLIST_FIELDS: tuple[tuple[str, str], ...] = (
    ("Companies", "companyType"),
    ("Companies", "countryID"),
    ("Contracts", "contractType"),
    ("Contracts", "status"),
    ("Tickets", "status"),
    ("Tickets", "priority"),
    ("Invoices", "paymentTerm"),
    ("Invoices", "invoiceStatus"),
    ("BillingItems", "billingItemType"),
)
