"""qbXML: the requests PayDesk sends to a QuickBooks Desktop company file and what it reads
from the answers.

Everything is built and read with lxml — element by element, never by pasting text together —
so a customer called ``Smith & <Sons>`` is escaped like any other value, and answers are parsed
with entity expansion, DTD loading and network access all switched off.

QuickBooks checks the *order* of the elements inside each request against its schema, so each
builder writes them in the schema's order (the QuickBooks SDK's Onscreen Reference).

The version of qbXML is never assumed: :func:`negotiate_version` picks the newest version that
both PayDesk and the host (``HostQueryRs``'s ``SupportedQBXMLVersion`` list) speak, and every
message carries it in its ``<?qbxml version="…"?>`` instruction.

Amounts are ``Decimal`` from the text QuickBooks sends (``AMTTYPE``: ``"1234.50"``) and written
from ``Decimal`` with two places; they are never floats.

Status codes become typed errors (:class:`QbxmlError` and its subclasses) whose ``message`` a
bookkeeper can act on; QuickBooks' own words are kept in ``qb_message`` for the log.

Threads: pure functions; safe anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from lxml import etree

__all__ = [
    "OUR_VERSIONS",
    "CompanyInfo",
    "CustomerRow",
    "HostInfo",
    "InvoiceRow",
    "PaymentApplication",
    "QbxmlBusyError",
    "QbxmlClosedPeriodError",
    "QbxmlClosedTransactionError",
    "QbxmlCurrencyError",
    "QbxmlEditSequenceError",
    "QbxmlError",
    "QbxmlInvalidIdError",
    "QbxmlNameNotUniqueError",
    "QbxmlNotFoundError",
    "QbxmlParseError",
    "QbxmlVersionError",
    "ReceivePaymentRow",
    "RequestMessage",
    "Response",
    "company_query",
    "currency_code_for",
    "customer_query",
    "host_query",
    "invoice_query",
    "negotiate_version",
    "parse_added_txn_id",
    "parse_company",
    "parse_customers",
    "parse_host",
    "parse_invoices",
    "parse_receive_payments",
    "parse_response",
    "preferences_query",
    "receive_payment_add",
    "receive_payment_mod",
    "receive_payment_query",
]

#: qbXML versions PayDesk speaks, oldest first. 8.0 (QuickBooks 2009) is the first with
#: everything used here (iterators, ``ReceivePaymentMod`` with ``AppliedToTxnMod``).
OUR_VERSIONS: tuple[str, ...] = ("8.0", "10.0", "11.0", "12.0", "13.0", "14.0", "15.0", "16.0")

Iterator = Literal["Start", "Continue"]
TWO_PLACES = Decimal("0.01")

_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
    remove_blank_text=True,
)


# --- errors ------------------------------------------------------------------------------------


class QbxmlError(Exception):
    """QuickBooks refused a request, or its answer could not be read.

    ``message`` is for the bookkeeper; ``qb_message`` is QuickBooks' own text (for the log);
    ``retry`` says whether sending the same request later can succeed by itself;
    ``needs_person`` that someone must change something in QuickBooks first.
    """

    retry = False
    needs_person = False

    def __init__(self, message: str, *, code: int | None = None, qb_message: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.qb_message = qb_message


class QbxmlParseError(QbxmlError):
    """The answer was not qbXML PayDesk can read."""

    retry = True


class QbxmlVersionError(QbxmlError):
    """The host speaks no qbXML version PayDesk speaks."""

    needs_person = True


class QbxmlCurrencyError(QbxmlError):
    """The company file keeps its books in another currency than PayDesk."""

    needs_person = True


class QbxmlNotFoundError(QbxmlError):
    """500 / 3120 / 3140: something PayDesk referred to is not in the company file."""

    needs_person = True


class QbxmlClosedTransactionError(QbxmlError):
    """570: the transaction is closed and cannot be changed."""

    needs_person = True


class QbxmlInvalidIdError(QbxmlError):
    """3000: an id PayDesk sent is not valid in this company file."""

    needs_person = True


class QbxmlNameNotUniqueError(QbxmlError):
    """3100: the name is already used by another list entry."""

    needs_person = True


class QbxmlClosedPeriodError(QbxmlError):
    """The date falls in a period closed in QuickBooks (its closing date)."""

    needs_person = True


class QbxmlEditSequenceError(QbxmlError):
    """3200: the record changed in QuickBooks since PayDesk read it; read it again and retry."""

    retry = True


class QbxmlBusyError(QbxmlError):
    """QuickBooks is busy (the record is open for editing, another program has it) or
    closed; trying again later is enough."""

    retry = True


_CLOSING_DATE = re.compile(r"closing date|closed period|period.*closed", re.IGNORECASE)


def error_for_status(code: int, qb_message: str, *, request: str) -> QbxmlError:
    """The typed error for a qbXML status code (``request`` names what was asked, in plain
    words: "the payment PD-7K3M9Q2X")."""
    said = f" QuickBooks said: “{qb_message}”" if qb_message else ""
    if _CLOSING_DATE.search(qb_message) or code in (3171,):
        return QbxmlClosedPeriodError(
            f"QuickBooks refused {request} because its date is in a closed period. Ask whoever "
            "keeps the books to record it by hand, or to move the closing date in QuickBooks "
            f"(Company > Set Closing Date), then choose Retry.{said}",
            code=code, qb_message=qb_message)
    if code == 3140 and "paymentmethod" in qb_message.replace(" ", "").lower():
        return QbxmlNotFoundError(
            f"QuickBooks has no payment method named as Settings › Posting says for "
            f"{request}. Type the name exactly as in QuickBooks' Payment Method list (Lists > "
            f"Customer & Vendor Profile Lists), or add it there, then choose Retry.{said}",
            code=code, qb_message=qb_message)
    if code == 500 or code in (3120, 3140):
        return QbxmlNotFoundError(
            f"QuickBooks could not find what {request} refers to — it may have been deleted "
            f"or made inactive in QuickBooks. Match the invoice again, then choose Retry.{said}",
            code=code, qb_message=qb_message)
    if code == 570:
        return QbxmlClosedTransactionError(
            f"QuickBooks will not change {request}: the transaction is closed in QuickBooks. "
            f"Record the change there by hand, then dismiss this posting.{said}",
            code=code, qb_message=qb_message)
    if code == 3000:
        return QbxmlInvalidIdError(
            f"QuickBooks did not recognise an id in {request}; the company file may not be the "
            "one PayDesk was matched with. Check the company file the Web Connector opens, "
            f"then choose Retry.{said}",
            code=code, qb_message=qb_message)
    if code == 3100:
        return QbxmlNameNotUniqueError(
            f"QuickBooks refused {request} because the name is already used by another entry "
            f"in QuickBooks. Rename one of them in QuickBooks, then choose Retry.{said}",
            code=code, qb_message=qb_message)
    if code == 3200:
        return QbxmlEditSequenceError(
            f"Someone changed {request} in QuickBooks while PayDesk was working on it. PayDesk "
            f"will read it again and retry by itself.{said}",
            code=code, qb_message=qb_message)
    if code in (3170, 3175, 3176, 3180):
        if code in (3175, 3176) or "in use" in qb_message.lower():
            return QbxmlBusyError(
                f"QuickBooks is busy with {request} (someone has it open for editing). "
                f"PayDesk will try again at the next Web Connector update.{said}",
                code=code, qb_message=qb_message)
        return QbxmlError(
            f"QuickBooks could not save {request}.{said} Correct it in QuickBooks or record "
            "it by hand, then choose Retry or Dismiss.",
            code=code, qb_message=qb_message)
    return QbxmlError(
        f"QuickBooks refused {request} (status {code}).{said}",
        code=code, qb_message=qb_message)


# --- versions ------------------------------------------------------------------------------------


def _version_key(text: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def negotiate_version(host_versions: Iterable[str]) -> str:
    """The newest qbXML version both sides speak. Country-specific versions (``CA3.0``,
    ``UK3.0``) are ignored; a host that speaks none of PayDesk's raises
    :class:`QbxmlVersionError`."""
    host = {key for v in host_versions if (key := _version_key(v)) is not None}
    ours = {_version_key(v): v for v in OUR_VERSIONS}
    common = sorted((key for key in ours if key in host), reverse=True)
    if common:
        chosen = ours[common[0]]
        assert chosen is not None
        return chosen
    listed = ", ".join(sorted(f"{a}.{b}" for a, b in host)) or "none"
    raise QbxmlVersionError(
        "This QuickBooks is too old for PayDesk: it speaks qbXML versions "
        f"{listed}, and PayDesk needs {OUR_VERSIONS[0]} or newer (QuickBooks 2009 or later). "
        "Update QuickBooks Desktop, then run the Web Connector again.")


# --- building requests -----------------------------------------------------------------------


def amount_text(value: Decimal) -> str:
    """qbXML's AMTTYPE: two places, never through a float."""
    if not isinstance(value, Decimal):
        raise TypeError("qbXML amounts are Decimals")
    return str(value.quantize(TWO_PLACES))


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def _ref(parent: etree._Element, tag: str, *, list_id: str | None = None,
         full_name: str | None = None) -> None:
    ref = _sub(parent, tag)
    if list_id:
        _sub(ref, "ListID", list_id)
    elif full_name:
        _sub(ref, "FullName", full_name)
    else:
        raise ValueError(f"{tag} needs a ListID or a FullName")


def _request(name: str, request_id: str, **attributes: str) -> etree._Element:
    element = etree.Element(name, requestID=request_id)
    for key, value in attributes.items():
        element.set(key, value)
    return element


@dataclass(frozen=True)
class RequestMessage:
    """One qbXML message: the version it is written in and its requests (in order)."""

    version: str
    requests: tuple[etree._Element, ...]
    on_error: Literal["stopOnError", "continueOnError"] = "stopOnError"

    def to_xml(self) -> str:
        root = etree.Element("QBXML")
        msgs = etree.SubElement(root, "QBXMLMsgsRq", onError=self.on_error)
        for request in self.requests:
            msgs.append(_copy(request))
        body = etree.tostring(root, encoding="unicode")
        return f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{self.version}"?>\n{body}'


def _copy(element: etree._Element) -> etree._Element:
    # An element can only have one parent; copies keep the caller's request reusable.
    return etree.fromstring(etree.tostring(element), _PARSER)


def host_query(request_id: str = "host") -> etree._Element:
    return _request("HostQueryRq", request_id)


def company_query(request_id: str = "company") -> etree._Element:
    return _request("CompanyQueryRq", request_id)


def preferences_query(request_id: str = "preferences") -> etree._Element:
    return _request("PreferencesQueryRq", request_id)


def payment_method_query(request_id: str = "payment-methods") -> etree._Element:
    """The names in the company file's Payment Method list (active ones)."""
    rq = _request("PaymentMethodQueryRq", request_id)
    _sub(rq, "ActiveStatus", "ActiveOnly")
    _sub(rq, "IncludeRetElement", "Name")
    return rq


def _iterator_attributes(iterator: Iterator, iterator_id: str | None) -> dict[str, str]:
    if iterator == "Continue":
        if not iterator_id:
            raise ValueError("continuing an iterator needs its iteratorID")
        return {"iterator": "Continue", "iteratorID": iterator_id}
    return {"iterator": "Start"}


def qb_datetime(moment: datetime) -> str:
    """DATETIMETYPE with its offset (QuickBooks compares in the company file's time zone)."""
    if moment.tzinfo is None:
        raise ValueError("qbXML date-times need a time zone")
    return moment.isoformat(timespec="seconds")


def customer_query(request_id: str, *, iterator: Iterator = "Start",
                   iterator_id: str | None = None, max_returned: int = 500,
                   from_modified: datetime | None = None) -> etree._Element:
    """Customers (active and inactive), a page at a time. ``from_modified`` reads only those
    changed since then (inclusive)."""
    rq = _request("CustomerQueryRq", request_id, **_iterator_attributes(iterator, iterator_id))
    _sub(rq, "MaxReturned", str(max_returned))
    _sub(rq, "ActiveStatus", "All")
    if from_modified is not None:
        _sub(rq, "FromModifiedDate", qb_datetime(from_modified))
    for name in ("ListID", "TimeModified", "EditSequence", "Name", "FullName", "IsActive",
                 "CompanyName", "Balance", "TotalBalance"):
        _sub(rq, "IncludeRetElement", name)
    return rq


_INVOICE_FIELDS = ("TxnID", "TimeModified", "EditSequence", "CustomerRef", "TxnDate",
                   "RefNumber", "DueDate", "Subtotal", "SalesTaxTotal", "AppliedAmount",
                   "BalanceRemaining", "IsPaid", "Memo")


def invoice_query(request_id: str, *, iterator: Iterator = "Start",
                  iterator_id: str | None = None, max_returned: int = 500,
                  from_modified: datetime | None = None,
                  txn_ids: Sequence[str] = ()) -> etree._Element:
    """Invoices, a page at a time (or the ones with ``txn_ids``, without an iterator)."""
    if txn_ids:
        rq = _request("InvoiceQueryRq", request_id)
        for txn_id in txn_ids:
            _sub(rq, "TxnID", txn_id)
    else:
        rq = _request("InvoiceQueryRq", request_id,
                      **_iterator_attributes(iterator, iterator_id))
        _sub(rq, "MaxReturned", str(max_returned))
        if from_modified is not None:
            window = _sub(rq, "ModifiedDateRangeFilter")
            _sub(window, "FromModifiedDate", qb_datetime(from_modified))
    for name in _INVOICE_FIELDS:
        _sub(rq, "IncludeRetElement", name)
    return rq


@dataclass(frozen=True)
class PaymentApplication:
    """How much of a payment goes to one QuickBooks invoice."""

    txn_id: str
    amount: Decimal


def receive_payment_add(request_id: str, *, customer_list_id: str, txn_date: date,
                        ref_number: str, total: Decimal, memo: str,
                        applied: Sequence[PaymentApplication],
                        payment_method: str | None = None,
                        deposit_to_account: str | None = None) -> etree._Element:
    """A ReceivePayment applied to each invoice in ``applied`` (``AppliedToTxnAdd``)."""
    if not applied:
        raise ValueError("a payment is applied to at least one invoice")
    if len(ref_number) > 20:
        raise ValueError("QuickBooks keeps at most 20 characters of a payment's reference")
    rq = _request("ReceivePaymentAddRq", request_id)
    add = _sub(rq, "ReceivePaymentAdd")
    _ref(add, "CustomerRef", list_id=customer_list_id)
    _sub(add, "TxnDate", txn_date.isoformat())
    _sub(add, "RefNumber", ref_number)
    _sub(add, "TotalAmount", amount_text(total))
    if payment_method:
        _ref(add, "PaymentMethodRef", full_name=payment_method)
    _sub(add, "Memo", memo[:4095])
    if deposit_to_account:
        _ref(add, "DepositToAccountRef", full_name=deposit_to_account)
    for item in applied:
        applied_add = _sub(add, "AppliedToTxnAdd")
        _sub(applied_add, "TxnID", item.txn_id)
        _sub(applied_add, "PaymentAmount", amount_text(item.amount))
    return rq


def receive_payment_mod(request_id: str, *, txn_id: str, edit_sequence: str,
                        total: Decimal, memo: str,
                        applied: Sequence[PaymentApplication]) -> etree._Element:
    """Change an existing ReceivePayment's total and what it applies to each invoice
    (``AppliedToTxnMod``; an amount of 0 takes the payment off that invoice)."""
    rq = _request("ReceivePaymentModRq", request_id)
    mod = _sub(rq, "ReceivePaymentMod")
    _sub(mod, "TxnID", txn_id)
    _sub(mod, "EditSequence", edit_sequence)
    _sub(mod, "TotalAmount", amount_text(total))
    _sub(mod, "Memo", memo[:4095])
    for item in applied:
        applied_mod = _sub(mod, "AppliedToTxnMod")
        _sub(applied_mod, "TxnID", item.txn_id)
        _sub(applied_mod, "PaymentAmount", amount_text(item.amount))
    return rq


def receive_payment_query(request_id: str, ref_number: str) -> etree._Element:
    """ReceivePayments whose reference is exactly ``ref_number`` (with what they apply to)."""
    rq = _request("ReceivePaymentQueryRq", request_id)
    _sub(rq, "RefNumber", ref_number)
    _sub(rq, "IncludeLineItems", "true")
    return rq


# --- reading answers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Response:
    """One ``…Rs`` element of an answer."""

    name: str
    request_id: str
    status_code: int
    severity: str
    status_message: str
    element: etree._Element = field(repr=False)
    iterator_id: str | None = None
    remaining: int | None = None

    @property
    def ok(self) -> bool:
        return self.status_code == 0 or (self.severity.lower() != "error"
                                         and self.status_code != 1)

    @property
    def no_match(self) -> bool:
        """Status 1: a query found nothing (not an error)."""
        return self.status_code == 1

    def raise_for_status(self, *, request: str) -> None:
        """Raise the typed error for a failed request; a query that found nothing (1) and
        warnings pass."""
        if self.status_code in (0, 1) or self.severity.lower() in ("info", "warn"):
            return
        raise error_for_status(self.status_code, self.status_message, request=request)


def parse_response(xml: str | bytes) -> list[Response]:
    """Every ``…Rs`` of a qbXML answer, in order."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    # lxml refuses a str with an encoding declaration, and QuickBooks declares one.
    try:
        root = etree.fromstring(data.strip(), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise QbxmlParseError(
            "QuickBooks' answer could not be read. PayDesk will ask again at the next Web "
            "Connector update.", qb_message=str(exc)) from exc
    msgs = root.find("QBXMLMsgsRs")
    if root.tag != "QBXML" or msgs is None:
        raise QbxmlParseError(
            "QuickBooks answered with something that is not qbXML. PayDesk will ask again at "
            "the next Web Connector update.")
    out: list[Response] = []
    for rs in msgs:
        if not isinstance(rs.tag, str):
            continue
        try:
            code = int(rs.get("statusCode", "0"))
            remaining_text = rs.get("iteratorRemainingCount")
            remaining = int(remaining_text) if remaining_text is not None else None
        except ValueError as exc:
            raise QbxmlParseError("QuickBooks' answer had a status PayDesk cannot read.",
                                  qb_message=str(exc)) from exc
        out.append(Response(
            name=rs.tag, request_id=rs.get("requestID", ""), status_code=code,
            severity=rs.get("statusSeverity", "Info"),
            status_message=rs.get("statusMessage", ""), element=rs,
            iterator_id=rs.get("iteratorID"), remaining=remaining))
    return out


def _text(element: etree._Element, path: str) -> str | None:
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip()


def _decimal(element: etree._Element, path: str) -> Decimal | None:
    text = _text(element, path)
    if text is None or text == "":
        return None
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise QbxmlParseError(f"QuickBooks sent an amount PayDesk cannot read: {text!r}.") from exc


def _date(element: etree._Element, path: str) -> date | None:
    text = _text(element, path)
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise QbxmlParseError(f"QuickBooks sent a date PayDesk cannot read: {text!r}.") from exc


def _datetime(element: etree._Element, path: str) -> datetime | None:
    text = _text(element, path)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise QbxmlParseError(f"QuickBooks sent a time PayDesk cannot read: {text!r}.") from exc


def _bool(element: etree._Element, path: str) -> bool | None:
    text = _text(element, path)
    return None if text is None else text.lower() == "true"


@dataclass(frozen=True)
class HostInfo:
    product_name: str
    major_version: int | None
    country: str | None
    supported_versions: tuple[str, ...]


def parse_host(rs: Response) -> HostInfo:
    rs.raise_for_status(request="the question which QuickBooks this is")
    ret = rs.element.find("HostRet")
    if ret is None:
        raise QbxmlParseError("QuickBooks did not say which version it is.")
    major = _text(ret, "MajorVersion")
    return HostInfo(
        product_name=_text(ret, "ProductName") or "QuickBooks",
        major_version=int(major) if major and major.isdigit() else None,
        country=_text(ret, "Country"),
        supported_versions=tuple((v.text or "").strip()
                                 for v in ret.findall("SupportedQBXMLVersion")),
    )


#: QuickBooks' currency names (``HomeCurrencyRef/FullName``) and countries, as ISO 4217 codes.
_CURRENCY_NAMES = {
    "us dollar": "USD", "canadian dollar": "CAD", "british pound sterling": "GBP",
    "british pound": "GBP", "pound sterling": "GBP", "australian dollar": "AUD",
    "euro": "EUR", "new zealand dollar": "NZD", "south african rand": "ZAR",
    "indian rupee": "INR", "singapore dollar": "SGD", "hong kong dollar": "HKD",
    "mexican peso": "MXN", "swiss franc": "CHF", "japanese yen": "JPY",
}
_COUNTRY_CURRENCIES = {"US": "USD", "CA": "CAD", "UK": "GBP", "GB": "GBP", "AU": "AUD"}


def currency_code_for(name: str | None = None, country: str | None = None) -> str | None:
    """An ISO 4217 code from QuickBooks' currency name, else from the edition's country."""
    if name:
        code = _CURRENCY_NAMES.get(name.strip().lower())
        if code:
            return code
        if re.fullmatch(r"[A-Z]{3}", name.strip()):
            return name.strip()
    if country:
        return _COUNTRY_CURRENCIES.get(country.strip().upper())
    return None


@dataclass(frozen=True)
class CompanyInfo:
    company_name: str
    home_currency: str | None
    multicurrency: bool


def parse_company(company: Response, preferences: Response | None,
                  country: str | None) -> CompanyInfo:
    """The company's name and home currency: ``HomeCurrencyRef`` when multicurrency is on,
    else the currency of the edition's country (a US edition keeps US dollars)."""
    company.raise_for_status(request="the question which company file is open")
    ret = company.element.find("CompanyRet")
    if ret is None:
        raise QbxmlParseError("QuickBooks did not say which company file is open.")
    name = _text(ret, "CompanyName") or _text(ret, "LegalCompanyName") or "(unnamed company)"
    multicurrency = False
    currency_name: str | None = None
    if preferences is not None and preferences.ok:
        prefs = preferences.element.find("PreferencesRet/MultiCurrencyPreferences")
        if prefs is not None:
            multicurrency = bool(_bool(prefs, "IsMultiCurrencyOn"))
            currency_name = _text(prefs, "HomeCurrencyRef/FullName")
    country = country or _text(ret, "LegalAddress/Country") or _text(ret, "Address/Country")
    return CompanyInfo(name, currency_code_for(currency_name, country), multicurrency)


@dataclass(frozen=True)
class CustomerRow:
    """A QuickBooks customer as read (amounts in major units)."""

    list_id: str
    full_name: str
    name: str
    company_name: str | None
    is_active: bool
    edit_sequence: str
    time_modified: datetime | None
    balance: Decimal | None


def parse_payment_methods(rs: Response) -> list[str]:
    """The Payment Method list's names, alphabetical."""
    rs.raise_for_status(request="the list of payment methods")
    names = {name for ret in rs.element.iterfind("PaymentMethodRet")
             if (name := _text(ret, "Name"))}
    return sorted(names, key=lambda name: (name.casefold(), name))


def parse_customers(rs: Response) -> list[CustomerRow]:
    rs.raise_for_status(request="the list of customers")
    rows: list[CustomerRow] = []
    for ret in rs.element.iterfind("CustomerRet"):
        list_id = _text(ret, "ListID")
        if not list_id:
            raise QbxmlParseError("QuickBooks sent a customer without its ListID.")
        full_name = _text(ret, "FullName") or _text(ret, "Name") or ""
        rows.append(CustomerRow(
            list_id=list_id, full_name=full_name, name=_text(ret, "Name") or full_name,
            company_name=_text(ret, "CompanyName"),
            is_active=_bool(ret, "IsActive") is not False,
            edit_sequence=_text(ret, "EditSequence") or "",
            time_modified=_datetime(ret, "TimeModified"),
            balance=_decimal(ret, "TotalBalance") or _decimal(ret, "Balance"),
        ))
    return rows


@dataclass(frozen=True)
class InvoiceRow:
    """A QuickBooks invoice as read (amounts in major units). ``total`` is the subtotal plus
    sales tax; ``balance_remaining`` what is still owed in QuickBooks."""

    txn_id: str
    ref_number: str | None
    customer_list_id: str
    customer_name: str
    txn_date: date | None
    due_date: date | None
    subtotal: Decimal
    sales_tax: Decimal
    total: Decimal
    balance_remaining: Decimal
    is_paid: bool
    edit_sequence: str
    time_modified: datetime | None
    memo: str | None


def parse_invoices(rs: Response) -> list[InvoiceRow]:
    rs.raise_for_status(request="the list of invoices")
    rows: list[InvoiceRow] = []
    zero = Decimal("0.00")
    for ret in rs.element.iterfind("InvoiceRet"):
        txn_id = _text(ret, "TxnID")
        customer = _text(ret, "CustomerRef/ListID")
        if not txn_id or not customer:
            raise QbxmlParseError("QuickBooks sent an invoice without its TxnID or customer.")
        subtotal = _decimal(ret, "Subtotal") or zero
        tax = _decimal(ret, "SalesTaxTotal") or zero
        total = subtotal + tax
        balance = _decimal(ret, "BalanceRemaining")
        rows.append(InvoiceRow(
            txn_id=txn_id, ref_number=_text(ret, "RefNumber"), customer_list_id=customer,
            customer_name=_text(ret, "CustomerRef/FullName") or "",
            txn_date=_date(ret, "TxnDate"), due_date=_date(ret, "DueDate"),
            subtotal=subtotal, sales_tax=tax, total=total,
            balance_remaining=balance if balance is not None else total,
            is_paid=bool(_bool(ret, "IsPaid")),
            edit_sequence=_text(ret, "EditSequence") or "",
            time_modified=_datetime(ret, "TimeModified"), memo=_text(ret, "Memo"),
        ))
    return rows


@dataclass(frozen=True)
class ReceivePaymentRow:
    txn_id: str
    ref_number: str | None
    customer_list_id: str
    txn_date: date | None
    total: Decimal
    edit_sequence: str
    memo: str | None
    applied: tuple[PaymentApplication, ...]


def parse_receive_payments(rs: Response) -> list[ReceivePaymentRow]:
    rs.raise_for_status(request="the search for a payment")
    rows: list[ReceivePaymentRow] = []
    for ret in rs.element.iterfind("ReceivePaymentRet"):
        txn_id = _text(ret, "TxnID")
        if not txn_id:
            raise QbxmlParseError("QuickBooks sent a payment without its TxnID.")
        applied = tuple(
            PaymentApplication(_text(a, "TxnID") or "", _decimal(a, "Amount") or Decimal(0))
            for a in ret.iterfind("AppliedToTxnRet"))
        rows.append(ReceivePaymentRow(
            txn_id=txn_id, ref_number=_text(ret, "RefNumber"),
            customer_list_id=_text(ret, "CustomerRef/ListID") or "",
            txn_date=_date(ret, "TxnDate"), total=_decimal(ret, "TotalAmount") or Decimal(0),
            edit_sequence=_text(ret, "EditSequence") or "", memo=_text(ret, "Memo"),
            applied=applied))
    return rows


def parse_added_txn_id(rs: Response, *, request: str) -> str:
    """The TxnID of what an ``…AddRs`` or ``…ModRs`` created or changed."""
    rs.raise_for_status(request=request)
    for ret in rs.element:
        if isinstance(ret.tag, str) and ret.tag.endswith("Ret"):
            txn_id = _text(ret, "TxnID")
            if txn_id:
                return txn_id
    raise QbxmlParseError("QuickBooks did not say which transaction it saved.")
