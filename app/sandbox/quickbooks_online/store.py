"""The company's live state: generated records plus every change made through the API.

`CompanyStore` answers reads (by id, by query, change data capture) and performs the
writes PayDesk makes — Payment create / update / void / delete, CreditMemo and
RefundReceipt create, Customer and PaymentMethod create and update — with QuickBooks' rules:
``SyncToken`` must match (else fault 5010), a Payment applied to invoices lowers their
``Balance`` and adds a ``LinkedTxn`` (void, delete and update put it back), money beyond the
lines is ``UnappliedAmt``, names are unique (6240), document numbers too (6140), references
must exist (2500), required fields must be there (2020), and nothing is written in a closed
books period (6210).

Thread-safety: every public method takes the store's lock.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from app.sandbox.autotask.data import CHUNK
from app.sandbox.quickbooks_online.data import (
    ACCOUNTS_RECEIVABLE,
    UNDEPOSITED_FUNDS,
    ZERO,
    CompanyData,
    Record,
    format_qbo_time,
    money,
)
from app.sandbox.quickbooks_online.query import Query, lookup

__all__ = ["ENTITIES", "CompanyStore", "QboFault"]

ENTITIES = ("Account", "CompanyInfo", "CreditMemo", "Customer", "Invoice", "Item", "Payment",
            "PaymentMethod", "Preferences", "RefundReceipt", "SalesReceipt", "Term")
_LISTS = ("Account", "Item", "PaymentMethod", "Term")
_TXNS = ("Invoice", "Payment", "CreditMemo", "RefundReceipt", "SalesReceipt")


class QboFault(Exception):
    """A QuickBooks ``Fault``: HTTP status, error code, message, detail, element."""

    def __init__(self, code: str, message: str, detail: str, *, element: str = "",
                 status: int = 400, kind: str = "ValidationFault") -> None:
        super().__init__(detail)
        self.code = code
        self.message = message
        self.detail = detail
        self.element = element
        self.status = status
        self.kind = kind

    def body(self, now: str) -> Record:
        return {"Fault": {"Error": [{"Message": self.message, "Detail": self.detail,
                                     "code": self.code, "element": self.element}],
                          "type": self.kind}, "time": now}


def not_found(entity: str, id_: str) -> QboFault:
    return QboFault("610", "Object Not Found",
                    "Object Not Found : Something you're trying to use has been made "
                    f"inactive. Check the fields with accounts, customers, items, vendors or "
                    f"employees. ({entity} {id_})")


def required(element: str) -> QboFault:
    return QboFault("2020", "Required param missing, need to supply the required value for "
                    "the API", f"Required parameter {element} is missing in the request",
                    element=element)


def invalid_reference(what: str, id_: Any) -> QboFault:
    return QboFault("2500", "Invalid Reference Id",
                    f"Invalid Reference Id : {what} element id {id_} not found")


def business(detail: str, element: str = "") -> QboFault:
    return QboFault("6000", "A business validation error has occurred while processing your "
                    "request", f"Business Validation Error: {detail}", element=element)


def stale(entity: str) -> QboFault:
    return QboFault("5010", "Stale Object Error",
                    "Stale Object Error : You and Bookkeeper were working on this at the same "
                    f"time. Bookkeeper finished before you did, so your work was not saved. "
                    f"({entity})")


def _amount(value: Any, element: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise required(element)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise QboFault("2010", "Request has invalid or unsupported property",
                       f"Property Name:Can not parse {element}", element=element) from None
    if not number.is_finite():
        raise QboFault("2010", "Request has invalid or unsupported property",
                       f"Property Name:Can not parse {element}", element=element)
    return money(number)


_MAX_LENGTH = {"PaymentRefNum": 21, "DocNumber": 21, "PrivateNote": 4000,
               "DisplayName": 500, "Name": 31, "Description": 4000}


def _text(value: Any, name: str) -> str:
    """A string field within QuickBooks' length limit (else fault 2050, never cut short)."""
    text = str(value)
    limit = _MAX_LENGTH.get(name)
    if limit is not None and len(text) > limit:
        raise QboFault("2050", "String length is either shorter or longer than supported by "
                       "specification", f"String length specified does not match the "
                       f"supported length. Min:0 Max:{limit} supported. Supplied length:"
                       f"{len(text)}", element=name)
    return text


def _check_line_amount(line: Record, detail: Record, amount: Decimal) -> None:
    """QuickBooks refuses a sales line whose Amount is not UnitPrice x Qty (when both given)."""
    if "UnitPrice" in detail and "Qty" in detail:
        try:
            expected = money(Decimal(str(detail["UnitPrice"])) * Decimal(str(detail["Qty"])))
        except InvalidOperation:
            raise QboFault("2010", "Request has invalid or unsupported property",
                           "Property Name:Can not parse UnitPrice or Qty",
                           element="Line.SalesItemLineDetail") from None
        if expected != amount:
            raise QboFault("6070", "Amount is not equal to UnitPrice * Qty",
                           f"Business Validation Error: Amount {amount} is not equal to "
                           f"UnitPrice * Qty ({expected}). Supply the right amount, or leave "
                           "out UnitPrice or Qty.", element="Line.Amount")


def _ref_value(body: Record, name: str) -> str | None:
    ref = body.get(name)
    if isinstance(ref, dict) and ref.get("value") not in (None, ""):
        return str(ref["value"])
    return None


@dataclass
class _Deletion:
    id: str
    at: datetime


class CompanyStore:
    """Generated data plus an overlay of changes; ``clock()`` is the sandbox's time."""

    def __init__(self, data: CompanyData, *, clock: Any = None, realm_id: str,
                 multicurrency: bool = False) -> None:
        self.data = data
        self.lock = data.lock
        self.realm_id = realm_id
        self._clock = clock or (lambda: time.time())
        self.overlay: dict[str, dict[str, Record]] = {e: {} for e in ENTITIES}
        self.created: dict[str, list[str]] = {e: [] for e in ENTITIES}
        self.deleted: dict[str, dict[str, _Deletion]] = {e: {} for e in ENTITIES}
        self.version: dict[str, int] = dict.fromkeys(ENTITIES, 0)
        self._next_txn = data.first_new_txn_id()
        self._next_name = 10_000
        self._next_list = 200
        self.payments_written = 0
        self.entered_in_quickbooks: set[str] = set()
        self.renamed: dict[str, str] = {}  # customer Id -> its new name (renamed through the API)
        self.writes: list[Record] = []
        self._query_cache: dict[tuple[Any, ...], tuple[int, list[str]]] = {}
        self._updated_index: dict[str, list[tuple[datetime, str]]] = {}
        self._ids_cache: dict[str, tuple[int, list[str]]] = {}
        self._customer_index: dict[str, dict[str, list[str]]] = {}
        self._generated_cache: dict[tuple[Any, ...], list[tuple[tuple[Any, ...], str]]] = {}
        created = format_qbo_time(datetime.combine(data.autotask.start, datetime.min.time(),
                                                   UTC) - timedelta(days=400))
        for entity, records in data.lists(created).items():
            for record in records:
                self.overlay[entity][record["Id"]] = record
                self.created[entity].append(record["Id"])
        self.overlay["CompanyInfo"]["1"] = self._company_info(created)
        self.created["CompanyInfo"].append("1")
        self.overlay["Preferences"]["1"] = self._preferences(created, multicurrency)
        self.created["Preferences"].append("1")

    # ------------------------------------------------------------------ time
    def now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def now_text(self) -> str:
        moment = self.now()
        return format_qbo_time(moment)[:19] + f".{moment.microsecond // 1000:03d}" + \
            format_qbo_time(moment)[19:]

    # ------------------------------------------------------------------ company
    def _company_info(self, created: str) -> Record:
        d = self.data
        country = {"USD": "US", "CAD": "CA", "GBP": "GB", "AUD": "AU"}.get(d.currency, "US")
        address = {"Id": "1", "Line1": "100 Harbor Way", "City": "Portland",
                   "CountrySubDivisionCode": "OR", "PostalCode": "97205", "Country": country}
        return {
            "Id": "1", "SyncToken": "3", "domain": "QBO", "sparse": False,
            "CompanyName": d.company_name, "LegalName": d.company_name,
            "CompanyAddr": address, "CustomerCommunicationAddr": dict(address),
            "LegalAddr": dict(address), "PrimaryPhone": {"FreeFormNumber": "(503) 555-0100"},
            "CompanyStartDate": d.autotask.start.isoformat(),
            "FiscalYearStartMonth": "January", "Country": country,
            "Email": {"Address": "books@example.com"}, "WebAddr": {},
            "SupportedLanguages": "en", "DefaultTimeZone": "America/Los_Angeles",
            "NameValue": [
                {"Name": "NeoEnabled", "Value": "true"},
                {"Name": "IndustryType", "Value": "Computer Systems Design and Related "
                 "Services"},
                {"Name": "CompanyType", "Value": "LLC"},
                {"Name": "SubscriptionStatus", "Value": "PAID"},
                {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
                {"Name": "PayrollFeature", "Value": "false"},
                {"Name": "AccountantFeature", "Value": "false"},
                {"Name": "IsQbdtMigrated", "Value": "false"},
                {"Name": "ItemCategoriesFeature", "Value": "true"},
                {"Name": "AssignedTime", "Value": created},
            ],
            "MetaData": {"CreateTime": created, "LastUpdatedTime": created},
        }

    def _preferences(self, created: str, multicurrency: bool) -> Record:
        return {
            "Id": "1", "SyncToken": "5", "domain": "QBO", "sparse": False,
            "AccountingInfoPrefs": {"TrackDepartments": False, "ClassTrackingPerTxn": False,
                                    "CustomerTerminology": "Customers",
                                    "FirstMonthOfFiscalYear": "January"},
            "SalesFormsPrefs": {"CustomTxnNumbers": True, "AllowDeposit": True,
                                "AllowDiscount": True, "AllowShipping": False,
                                "DefaultTerms": {"value": "3"}, "ETransactionEnabledStatus":
                                "NotApplicable"},
            "CurrencyPrefs": {"MultiCurrencyEnabled": multicurrency,
                              "HomeCurrency": {"value": self.data.currency}},
            "TaxPrefs": {"UsingSalesTax": True},
            "OtherPrefs": {"NameValue": [
                {"Name": "SalesFormsPrefs.DefaultCustomerMessage", "Value": ""},
                {"Name": "WarnDuplicateInvoiceNumber", "Value": "true"}]},
            "MetaData": {"CreateTime": created, "LastUpdatedTime": created},
        }

    def set_multicurrency(self, on: bool) -> None:
        with self.lock:
            prefs = self.overlay["Preferences"]["1"]
            if prefs["CurrencyPrefs"]["MultiCurrencyEnabled"] and not on:
                raise ValueError("multicurrency, once on, cannot be turned off")
            prefs["CurrencyPrefs"]["MultiCurrencyEnabled"] = on
            self._touch(prefs)

    def set_book_close_date(self, day: date | None) -> None:
        with self.lock:
            prefs = self.overlay["Preferences"]["1"]
            if day is None:
                prefs["AccountingInfoPrefs"].pop("BookCloseDate", None)
            else:
                prefs["AccountingInfoPrefs"]["BookCloseDate"] = day.isoformat()
            self._touch(prefs)

    # ------------------------------------------------------------------ reading
    def get(self, entity: str, id_: str, *, with_lines: bool = True) -> Record | None:
        with self.lock:
            if id_ in self.deleted[entity]:
                return None
            record = self.overlay[entity].get(id_)
            if record is None:
                record = self._generated(entity, id_, with_lines=with_lines)
            return self._current_names(record) if self.renamed and record else record

    def _current_names(self, record: Record) -> Record:
        """QuickBooks shows a customer's current name in references to it."""
        ref = record.get("CustomerRef")
        if isinstance(ref, dict):
            name = self.renamed.get(str(ref.get("value")))
            if name is not None and ref.get("name") != name:
                return {**record, "CustomerRef": {**ref, "name": name}}
        return record

    def _generated(self, entity: str, id_: str, *, with_lines: bool = True) -> Record | None:
        d = self.data
        if entity == "Invoice":
            i = d.invoice_index(id_)
            return None if i is None else d.generated_invoice(i, with_lines=with_lines)
        if entity == "Payment":
            i = d.payment_index(id_)
            return None if i is None else d.generated_payment(i)
        if entity == "Customer":
            n = d.customer_index(id_)
            return None if n is None else d.customers()[n]
        return None

    def require(self, entity: str, id_: str) -> Record:
        record = self.get(entity, id_)
        if record is None:
            raise not_found(entity, id_)
        return record

    def ids(self, entity: str) -> list[str]:
        """Every live id, in id order (numeric); kept until the entity changes."""
        with self.lock:
            cached = self._ids_cache.get(entity)
            if cached is not None and cached[0] == self.version[entity]:
                return cached[1]
            ids = self._ids(entity)
            self._ids_cache[entity] = (self.version[entity], ids)
            return ids

    def _ids(self, entity: str) -> list[str]:
        with self.lock:
            d = self.data
            deleted = self.deleted[entity]
            if entity == "Invoice":
                base = [d.invoice_id(i) for i in d.index().in_qbo]
            elif entity == "Payment":
                base = [d.historical_payment_id(i) for i in d.index().paid]
            elif entity == "Customer":
                base = [r["Id"] for r in d.customers()]
            else:
                base = []
            extra = sorted(self.created[entity], key=_id_key)
            ids = base + extra
            if deleted:
                ids = [i for i in ids if i not in deleted]
            return ids

    def count_generated(self, entity: str) -> int:
        d = self.data
        if entity == "Invoice":
            return len(d.index().in_qbo)
        if entity == "Payment":
            return len(d.index().paid)
        if entity == "Customer":
            return len(d.customers())
        return 0

    def iter_records(self, entity: str, *, with_lines: bool = False) -> Iterator[Record]:
        """Every live record, in id order (generated chunk by chunk)."""
        with self.lock:
            d = self.data
            overlay = self.overlay[entity]
            deleted = self.deleted[entity]
            if entity in ("Invoice", "Payment"):
                idx = d.index()
                for chunk in range((d.invoice_count + CHUNK - 1) // CHUNK):
                    headers = d.invoice_chunk(chunk)
                    for offset, header in enumerate(headers):
                        i = chunk * CHUNK + offset
                        if not header:
                            continue
                        if entity == "Payment":
                            if idx.state[i] != 2:
                                continue
                            id_ = d.historical_payment_id(i)
                        else:
                            id_ = header["Id"]
                        if id_ in deleted:
                            continue
                        record = overlay.get(id_)
                        if record is None:
                            if entity == "Payment":
                                record = d.generated_payment(i)
                            elif with_lines:
                                record = d.generated_invoice(i)
                            else:
                                record = header
                        if record is not None:
                            yield record
            elif entity == "Customer":
                for record in d.customers():
                    if record["Id"] not in deleted:
                        yield overlay.get(record["Id"], record)
            for id_ in sorted(self.created[entity], key=_id_key):
                if id_ not in deleted:
                    yield overlay[id_]

    def run_query(self, query: Query) -> tuple[int, list[Record]]:
        """(total matching, the page's records)."""
        with self.lock:
            ids = self._matching_ids(query)
            if query.count:
                return len(ids), []
            first = query.start - 1
            page = ids[first:first + query.max_results]
            # Lines are made only when asked for (SELECT * or a field list naming Line).
            lines = query.fields is None or any(f.lower() == "line" for f in query.fields)
            records = [r for r in (self.get(query.entity, i, with_lines=lines) for i in page)
                       if r is not None]
            return len(ids), records

    def _matching_ids(self, query: Query) -> list[str]:
        entity = query.entity
        by_id = [(name.lower(), descending) for name, descending in query.order]
        if not query.conditions and by_id in ([], [("id", False)]):
            return self.ids(entity)
        key = query.shape_key()
        cached = self._query_cache.get(key)
        if cached is not None and cached[0] == self.version[entity]:
            return cached[1]
        candidates = self._candidates(query)
        rows: list[tuple[tuple[Any, ...], str]] = []
        if candidates is not None:
            for id_ in candidates:
                record = self.get(entity, id_)
                if record is not None and query.matches(record):
                    rows.append((_order_values(query, record), id_))
        else:
            # Generated records never change (a change is an overlay record), so what they
            # match is kept for good; only changed and new records are looked at again.
            overlay = self.overlay[entity]
            deleted = self.deleted[entity]
            rows = [row for row in self._generated_matches(query)
                    if row[1] not in overlay and row[1] not in deleted]
            rows.extend((_order_values(query, record), id_) for id_, record in overlay.items()
                        if id_ not in deleted and query.matches(record))
        rows.sort(key=lambda row: _id_key(row[1]))
        for position, (_name, descending) in reversed(list(enumerate(query.order))):
            rows.sort(key=_row_sorter(position), reverse=descending)
        ids = [row[1] for row in rows]
        self._query_cache[key] = (self.version[entity], ids)
        if len(self._query_cache) > 64:
            self._query_cache.pop(next(iter(self._query_cache)))
        return ids

    def _generated_matches(self, query: Query) -> list[tuple[tuple[Any, ...], str]]:
        key = query.shape_key()
        found = self._generated_cache.get(key)
        if found is None:
            found = [(_order_values(query, record), record["Id"])
                     for record in self._generated_records(query.entity)
                     if query.matches(record)]
            self._generated_cache[key] = found
            if len(self._generated_cache) > 32:
                self._generated_cache.pop(next(iter(self._generated_cache)))
        return found

    def _candidates(self, query: Query) -> list[str] | None:
        """Ids a query can only match, from an index (Id, DocNumber); None: scan."""
        for c in query.conditions:
            name = c.field.lower()
            values = c.value if c.op == "in" else (c.value,) if c.op == "=" else None
            if values is None:
                continue
            texts = [str(v) for v in values]
            if name == "id":
                return sorted(set(texts), key=_id_key)
            if name == "customerref" and query.entity in ("Invoice", "Payment"):
                by_customer = self._by_customer(query.entity)
                found = {i for t in texts for i in by_customer.get(t, ())}
                return sorted(found | set(self.overlay[query.entity]), key=_id_key)
            if name == "docnumber" and query.entity == "Invoice":
                index = self.data.doc_number_index()
                found = {self.data.invoice_id(index[t]) for t in texts if t in index}
                changed = {i for i in self.created["Invoice"]} | set(self.overlay["Invoice"])
                return sorted(found | changed, key=_id_key)
        return None

    def _by_customer(self, entity: str) -> dict[str, list[str]]:
        """Generated invoice or payment ids by customer id (from the compact index)."""
        found = self._customer_index.get(entity)
        if found is None:
            d = self.data
            idx = d.index()
            found = {}
            positions = idx.in_qbo if entity == "Invoice" else idx.paid
            make_id = d.invoice_id if entity == "Invoice" else d.historical_payment_id
            for i in positions:
                found.setdefault(d.customer_id(idx.company[i]), []).append(make_id(i))
            self._customer_index[entity] = found
        return found

    # ------------------------------------------------------------------ change data capture
    def changed_since(self, entity: str, since: datetime) -> list[Record]:
        """Records changed at or after ``since`` (deleted ones as ``status: Deleted``)."""
        with self.lock:
            index = self._updated_index.get(entity)
            if index is None:
                index = sorted(
                    (_parse_time(r["MetaData"]["LastUpdatedTime"]), r["Id"])
                    for r in self._generated_records(entity))
                self._updated_index[entity] = index
            out: dict[str, Record] = {}
            lo = _bisect(index, since)
            for _moment, id_ in index[lo:]:
                if id_ in self.overlay[entity] or id_ in self.deleted[entity]:
                    continue
                record = self.get(entity, id_)
                if record is not None:
                    out[id_] = record
            for id_, record in self.overlay[entity].items():
                if _parse_time(record["MetaData"]["LastUpdatedTime"]) >= since and \
                        id_ not in self.deleted[entity]:
                    out[id_] = self._current_names(record)
            for id_, gone in self.deleted[entity].items():
                if gone.at >= since:
                    out[id_] = {"Id": id_, "domain": "QBO", "status": "Deleted",
                                "MetaData": {"LastUpdatedTime": format_qbo_time(gone.at)}}
            return sorted(out.values(), key=lambda r: _parse_time(
                r["MetaData"]["LastUpdatedTime"]))

    def _generated_records(self, entity: str) -> Iterator[Record]:
        d = self.data
        if entity == "Invoice":
            for i in d.index().in_qbo:
                record = d.generated_invoice(i, with_lines=False)
                if record is not None:
                    yield record
        elif entity == "Payment":
            for i in d.index().paid:
                record = d.generated_payment(i)
                if record is not None:
                    yield record
        elif entity == "Customer":
            yield from d.customers()

    # ------------------------------------------------------------------ writing helpers
    def _touch(self, record: Record, *, bump: bool = True) -> None:
        if bump:
            record["SyncToken"] = str(int(record.get("SyncToken", "0")) + 1)
        record.setdefault("MetaData", {})["LastUpdatedTime"] = format_qbo_time(self.now())

    def _put(self, entity: str, record: Record, *, new: bool = False) -> None:
        self.overlay[entity][record["Id"]] = record
        if new:
            self.created[entity].append(record["Id"])
        self.version[entity] += 1

    def _editable(self, entity: str, id_: str) -> Record:
        """A private copy of a record to change (put it back with `_put`)."""
        return copy.deepcopy(self.require(entity, id_) if entity != "Invoice"
                             else self._invoice_with_lines(id_))

    def _invoice_with_lines(self, id_: str) -> Record:
        record = self.overlay["Invoice"].get(id_)
        if record is not None and id_ not in self.deleted["Invoice"]:
            return record
        found = self._generated("Invoice", id_, with_lines=True)
        if found is None or id_ in self.deleted["Invoice"]:
            raise not_found("Invoice", id_)
        return found

    def _new_txn_id(self) -> str:
        self._next_txn += 1
        return str(self._next_txn)

    def _check_sync_token(self, entity: str, current: Record, body: Record) -> None:
        token = body.get("SyncToken")
        if token is None:
            raise required("SyncToken")
        if str(token) != str(current.get("SyncToken")):
            raise stale(entity)

    def _check_open_period(self, txn_date: str) -> None:
        prefs = self.overlay["Preferences"]["1"]
        closed = prefs["AccountingInfoPrefs"].get("BookCloseDate")
        if closed and txn_date <= closed:
            raise QboFault("6210", "Account Period Closed, Cannot Update Through Services API",
                           f"The account period has closed and the books are locked as of "
                           f"{closed}. Change the transaction date or ask the accountant to "
                           "reopen the period.", element="TxnDate")

    def _txn_date(self, body: Record) -> str:
        value = body.get("TxnDate")
        if value in (None, ""):
            return self.now().astimezone(_company_tz()).date().isoformat()
        try:
            return date.fromisoformat(str(value)[:10]).isoformat()
        except ValueError:
            raise QboFault("2010", "Request has invalid or unsupported property",
                           "Property Name:Can not parse TxnDate", element="TxnDate") from None

    def _customer_ref(self, body: Record) -> Record:
        value = _ref_value(body, "CustomerRef")
        if value is None:
            raise required("CustomerRef")
        customer = self.get("Customer", value)
        if customer is None:
            raise invalid_reference("Names", value)
        if not customer.get("Active", True):
            raise not_found("Customer", value)
        return {"value": customer["Id"], "name": customer["DisplayName"]}

    def _currency(self, body: Record) -> Record:
        wanted = _ref_value(body, "CurrencyRef")
        home = self.data.currency
        if wanted is not None and wanted != home:
            multi = self.overlay["Preferences"]["1"]["CurrencyPrefs"]["MultiCurrencyEnabled"]
            if not multi:
                raise business(f"The currency {wanted} is not the company's home currency "
                               f"({home}) and multicurrency is off.", "CurrencyRef")
        return self.data.currency_ref()

    def _account_ref(self, body: Record, name: str, default: str) -> Record:
        value = _ref_value(body, name) or default
        account = self.get("Account", value)
        if account is None:
            raise invalid_reference("Account", value)
        if name == "DepositToAccountRef" and account.get("AccountType") not in (
                "Bank", "Other Current Asset"):
            raise business(f"Money can only be deposited to a bank or other current asset "
                           f"account, not {account['Name']} ({account.get('AccountType')}).",
                           name)
        return {"value": account["Id"], "name": account["Name"]}

    def _method_ref(self, body: Record) -> Record | None:
        value = _ref_value(body, "PaymentMethodRef")
        if value is None:
            return None
        method = self.get("PaymentMethod", value)
        if method is None:
            raise invalid_reference("PaymentMethod", value)
        return {"value": method["Id"], "name": method["Name"]}

    def _adjust_customer(self, customer_id: str, delta: Decimal) -> None:
        customer = self._editable("Customer", customer_id)
        customer["Balance"] = money(Decimal(str(customer["Balance"])) + delta)
        customer["BalanceWithJobs"] = customer["Balance"]
        self._touch(customer, bump=False)
        self._put("Customer", customer)

    def _record_write(self, kind: str, entity: str, id_: str) -> None:
        self.writes.append({"kind": kind, "entity": entity, "Id": id_,
                            "at": format_qbo_time(self.now())})

    # ------------------------------------------------------------------ payments
    def _payment_lines(self, body: Record, customer_id: str) -> tuple[list[Record], Decimal]:
        """Validated lines and the net amount they apply (invoices minus credit memos)."""
        lines = body.get("Line") or []
        if not isinstance(lines, list):
            raise QboFault("2010", "Request has invalid or unsupported property",
                           "Property Name:Line must be a list", element="Line")
        out: list[Record] = []
        applied = ZERO
        seen: set[tuple[str, str]] = set()
        for line in lines:
            if not isinstance(line, dict):
                raise QboFault("2010", "Request has invalid or unsupported property",
                               "Property Name:Line", element="Line")
            amount = _amount(line.get("Amount"), "Line.Amount")
            links = line.get("LinkedTxn") or []
            if len(links) != 1 or not isinstance(links[0], dict):
                raise required("Line.LinkedTxn")
            txn_id = str(links[0].get("TxnId") or "")
            txn_type = str(links[0].get("TxnType") or "")
            if not txn_id:
                raise required("LinkedTxn.TxnId")
            if txn_type not in ("Invoice", "CreditMemo"):
                raise business(f"A payment can be linked to invoices and credit memos, not "
                               f"{txn_type or 'nothing'}.", "LinkedTxn.TxnType")
            if (txn_type, txn_id) in seen:
                raise business(f"{txn_type} {txn_id} appears twice in this payment.",
                               "LinkedTxn")
            seen.add((txn_type, txn_id))
            target = self.get(txn_type, txn_id)
            if target is None:
                raise invalid_reference("Txn", txn_id)
            if _ref_value(target, "CustomerRef") != customer_id:
                raise business(f"{txn_type} {txn_id} belongs to another customer.",
                               "LinkedTxn")
            if amount < 0:
                raise business("A payment line amount cannot be negative.", "Line.Amount")
            out.append({"Amount": amount,
                        "LinkedTxn": [{"TxnId": txn_id, "TxnType": txn_type}]})
            applied += amount if txn_type == "Invoice" else -amount
        return out, applied

    def _apply(self, payment: Record, sign: int) -> None:
        """Apply (+1) or take back (-1) a payment's lines on invoices and credit memos."""
        customer_id = str(payment["CustomerRef"]["value"])
        total_to_invoices = ZERO
        for line in payment.get("Line", []):
            link = line["LinkedTxn"][0]
            amount = Decimal(str(line["Amount"]))
            if link["TxnType"] == "Invoice":
                invoice = self._editable("Invoice", link["TxnId"])
                balance = Decimal(str(invoice["Balance"])) - sign * amount
                if sign > 0 and balance < 0:
                    raise business(
                        f"The amount applied to invoice {invoice.get('DocNumber')} "
                        f"({amount}) is more than its open balance "
                        f"({invoice['Balance']}).", "Line.Amount")
                invoice["Balance"] = money(balance)
                links = [x for x in invoice.get("LinkedTxn", [])
                         if not (x.get("TxnId") == payment["Id"] and x.get("TxnType")
                                 == "Payment")]
                if sign > 0:
                    links.append({"TxnId": payment["Id"], "TxnType": "Payment"})
                invoice["LinkedTxn"] = links
                self._touch(invoice)
                self._put("Invoice", invoice)
                total_to_invoices += amount
            else:
                memo = self._editable("CreditMemo", link["TxnId"])
                remaining = Decimal(str(memo["RemainingCredit"])) - sign * amount
                if sign > 0 and remaining < 0:
                    raise business(f"Credit memo {memo['Id']} has only "
                                   f"{memo['RemainingCredit']} left.", "Line.Amount")
                memo["RemainingCredit"] = money(remaining)
                memo["Balance"] = memo["RemainingCredit"]
                self._touch(memo)
                self._put("CreditMemo", memo)
                total_to_invoices -= amount
        # The customer's open balance falls by everything the payment brings in.
        self._adjust_customer(customer_id, -sign * Decimal(str(payment["TotalAmt"])))

    def create_payment(self, body: Record, *, through_api: bool = True) -> Record:
        """A Payment; ``through_api=False`` is one a person entered in QuickBooks (the admin
        interface's), which `payment_counts` leaves out of what the API wrote."""
        with self.lock:
            if body.get("Id"):
                return self.update_payment(body)
            customer = self._customer_ref(body)
            if body.get("TotalAmt") is None:
                raise required("TotalAmt")
            total = _amount(body["TotalAmt"], "TotalAmt")
            if total < 0:
                raise business("A payment's TotalAmt cannot be negative.", "TotalAmt")
            lines, applied = self._payment_lines(body, customer["value"])
            if applied > total:
                raise business(f"The lines apply {applied}, more than the payment's TotalAmt "
                               f"{total}.", "TotalAmt")
            txn_date = self._txn_date(body)
            self._check_open_period(txn_date)
            now = format_qbo_time(self.now())
            payment: Record = {
                "Id": self._new_txn_id(), "SyncToken": "0", "domain": "QBO", "sparse": False,
                "TxnDate": txn_date, "CurrencyRef": self._currency(body),
                "ExchangeRate": 1, "CustomerRef": customer,
                "DepositToAccountRef": self._account_ref(body, "DepositToAccountRef",
                                                         UNDEPOSITED_FUNDS),
                "ARAccountRef": {"value": ACCOUNTS_RECEIVABLE},
                "TotalAmt": total, "UnappliedAmt": money(total - applied),
                "ProcessPayment": False, "Line": lines,
                "MetaData": {"CreateTime": now, "LastUpdatedTime": now},
            }
            method = self._method_ref(body)
            if method is not None:
                payment["PaymentMethodRef"] = method
            for name in ("PaymentRefNum", "PrivateNote"):
                if body.get(name) not in (None, ""):
                    payment[name] = _text(body[name], name)
            self._apply(payment, +1)
            self._put("Payment", payment, new=True)
            if through_api:
                self.payments_written += 1
                self._record_write("create", "Payment", payment["Id"])
            else:
                self.entered_in_quickbooks.add(payment["Id"])
            return payment

    def touch(self, entity: str, id_: str) -> Record:
        """A colleague saved the record in QuickBooks: its SyncToken moves on."""
        with self.lock:
            record = self._editable(entity, id_)
            self._touch(record)
            self._put(entity, record)
            return record

    def update_payment(self, body: Record) -> Record:
        """Full or sparse (``"sparse": true``) update; lines may change."""
        with self.lock:
            id_ = str(body.get("Id") or "")
            current = self.get("Payment", id_)
            if current is None:
                raise not_found("Payment", id_)
            self._check_sync_token("Payment", current, body)
            self._check_open_period(current["TxnDate"])
            merged = copy.deepcopy(current) if body.get("sparse") else {
                k: v for k, v in copy.deepcopy(current).items()
                if k in ("Id", "SyncToken", "domain", "MetaData", "CurrencyRef", "ARAccountRef",
                         "ExchangeRate", "ProcessPayment")}
            for key, value in body.items():
                if key not in ("Id", "SyncToken", "sparse", "domain", "MetaData"):
                    merged[key] = value
            customer = self._customer_ref(merged)
            total = _amount(merged.get("TotalAmt"), "TotalAmt")
            lines, applied = self._payment_lines(merged, customer["value"])
            if applied > total:
                raise business(f"The lines apply {applied}, more than the payment's TotalAmt "
                               f"{total}.", "TotalAmt")
            txn_date = self._txn_date(merged)
            self._check_open_period(txn_date)
            self._apply(current, -1)
            merged.update({"CustomerRef": customer, "TotalAmt": total, "Line": lines,
                           "UnappliedAmt": money(total - applied), "TxnDate": txn_date,
                           "sparse": False,
                           "DepositToAccountRef": self._account_ref(
                               merged, "DepositToAccountRef", UNDEPOSITED_FUNDS)})
            method = self._method_ref(merged)
            if method is not None:
                merged["PaymentMethodRef"] = method
            try:
                self._apply(merged, +1)
            except QboFault:
                self._apply(current, +1)
                raise
            self._touch(merged)
            self._put("Payment", merged)
            self._record_write("update", "Payment", id_)
            return merged

    def void_payment(self, body: Record) -> Record:
        with self.lock:
            id_ = str(body.get("Id") or "")
            current = self.get("Payment", id_)
            if current is None:
                raise not_found("Payment", id_)
            self._check_sync_token("Payment", current, body)
            self._check_open_period(current["TxnDate"])
            self._apply(current, -1)
            voided = copy.deepcopy(current)
            note = voided.get("PrivateNote")
            voided.update({"TotalAmt": ZERO, "UnappliedAmt": ZERO, "Line": [],
                           "PrivateNote": f"Voided - {note}" if note else "Voided"})
            self._touch(voided)
            self._put("Payment", voided)
            self._record_write("void", "Payment", id_)
            return voided

    def delete(self, entity: str, body: Record) -> Record:
        with self.lock:
            id_ = str(body.get("Id") or "")
            current = self.get(entity, id_)
            if current is None:
                raise not_found(entity, id_)
            self._check_sync_token(entity, current, body)
            if "TxnDate" in current:
                self._check_open_period(current["TxnDate"])
            if entity == "Payment":
                self._apply(current, -1)
            elif entity == "CreditMemo":
                if Decimal(str(current["RemainingCredit"])) != Decimal(str(
                        current["TotalAmt"])):
                    raise business("This credit memo is applied to a payment; remove it from "
                                   "the payment first.")
                self._adjust_customer(current["CustomerRef"]["value"],
                                      Decimal(str(current["TotalAmt"])))
            elif entity == "Invoice":
                if current.get("LinkedTxn"):
                    raise business("This invoice has payments; delete them first.")
                self._adjust_customer(current["CustomerRef"]["value"],
                                      -Decimal(str(current["Balance"])))
            self.deleted[entity][id_] = _Deletion(id_, self.now())
            self.overlay[entity].pop(id_, None)
            self.version[entity] += 1
            self._record_write("delete", entity, id_)
            return {"domain": "QBO", "status": "Deleted", "Id": id_}

    # ------------------------------------------------------------------ other writes
    def _sales_lines(self, body: Record) -> tuple[list[Record], Decimal]:
        lines = body.get("Line")
        if not isinstance(lines, list) or not lines:
            raise required("Line")
        out: list[Record] = []
        total = ZERO
        for n, line in enumerate(lines, start=1):
            if not isinstance(line, dict):
                raise required("Line")
            if line.get("DetailType") == "SubTotalLineDetail":
                continue
            amount = _amount(line.get("Amount"), "Line.Amount")
            detail = line.get("SalesItemLineDetail") or {}
            _check_line_amount(line, detail, amount)
            item_id = _ref_value(detail, "ItemRef") or "1"
            item = self.get("Item", item_id)
            if item is None:
                raise invalid_reference("Item", item_id)
            entry: Record = {"Id": str(n), "LineNum": n, "Amount": amount,
                             "DetailType": "SalesItemLineDetail",
                             "SalesItemLineDetail": {
                                 **{k: v for k, v in detail.items() if k != "ItemRef"},
                                 "ItemRef": {"value": item["Id"], "name": item["Name"]}}}
            if line.get("Description"):
                entry["Description"] = _text(line["Description"], "Description")
            out.append(entry)
            total += amount
        out.append({"Amount": total, "DetailType": "SubTotalLineDetail",
                    "SubTotalLineDetail": {}})
        return out, total

    def _check_doc_number(self, entity: str, doc: str | None) -> None:
        if not doc:
            return
        _text(doc, "DocNumber")
        if entity == "Invoice":
            index = self.data.doc_number_index()
            existing = index.get(doc)
            clash = None if existing is None else self.data.invoice_id(existing)
            if clash is not None and (clash in self.deleted["Invoice"] or (
                    self.overlay["Invoice"].get(clash, {}).get("DocNumber", doc) != doc)):
                clash = None
            if clash is None:
                clash = next((i for i, r in self.overlay["Invoice"].items()
                              if r.get("DocNumber") == doc), None)
        else:
            clash = next((i for i, r in self.overlay[entity].items()
                          if r.get("DocNumber") == doc and i not in self.deleted[entity]),
                         None)
        if clash is not None:
            raise QboFault("6140", "Duplicate Document Number Error",
                           "Duplicate Document Number Error : You must specify a different "
                           f"number. This number has already been used. DocNumber={doc} is "
                           f"assigned to TxnType={entity} with TxnId={clash}",
                           element="DocNumber")

    def update_invoice(self, body: Record) -> Record:
        """Sparse or full update of an invoice's number, dates, memo or lines (as a person
        edits it in QuickBooks); the balance keeps what payments applied."""
        with self.lock:
            id_ = str(body.get("Id") or "")
            current = self._invoice_with_lines(id_)
            self._check_sync_token("Invoice", current, body)
            self._check_open_period(current["TxnDate"])
            updated = copy.deepcopy(current)
            applied = money(Decimal(str(current["TotalAmt"])) - Decimal(str(
                current["Balance"])))
            if _ref_value(body, "CustomerRef") not in (None, current["CustomerRef"]["value"]):
                if applied:
                    raise business("This invoice has payments; it cannot move to another "
                                   "customer.", "CustomerRef")
                updated["CustomerRef"] = self._customer_ref(body)
            if "Line" in body or not body.get("sparse"):
                lines, subtotal = self._sales_lines(body)
                tax = Decimal(str(current.get("TxnTaxDetail", {}).get("TotalTax", 0)))
                total = money(subtotal + tax)
                if total < applied:
                    raise business(f"The new total {total} is less than the {applied} already "
                                   "paid on this invoice.", "Line")
                updated["Line"] = lines
                updated["TotalAmt"] = total
                updated["Balance"] = money(total - applied)
            for name in ("DocNumber", "DueDate", "PrivateNote", "CustomerMemo"):
                if name in body:
                    updated[name] = body[name]
            if "TxnDate" in body:
                updated["TxnDate"] = self._txn_date(body)
                self._check_open_period(updated["TxnDate"])
            if updated.get("DocNumber") != current.get("DocNumber"):
                self._check_doc_number("Invoice", str(updated["DocNumber"]))
            self._adjust_customer(current["CustomerRef"]["value"],
                                  -Decimal(str(current["Balance"])))
            self._adjust_customer(updated["CustomerRef"]["value"],
                                  Decimal(str(updated["Balance"])))
            self._touch(updated)
            self._put("Invoice", updated)
            self._record_write("update", "Invoice", id_)
            return updated

    def void_invoice(self, body: Record) -> Record:
        """``?operation=void``: amounts zeroed, "Voided" in the memo; not with payments."""
        with self.lock:
            id_ = str(body.get("Id") or "")
            current = self._invoice_with_lines(id_)
            self._check_sync_token("Invoice", current, body)
            self._check_open_period(current["TxnDate"])
            if any(link.get("TxnType") == "Payment" for link in current.get("LinkedTxn", [])):
                raise business("This invoice has payments linked to it; delete or change "
                               "them first.")
            voided = copy.deepcopy(current)
            for line in voided.get("Line", []):
                line["Amount"] = ZERO
            note = voided.get("PrivateNote")
            voided.update({"TotalAmt": ZERO, "Balance": ZERO,
                           "TxnTaxDetail": {"TotalTax": ZERO},
                           "PrivateNote": f"Voided - {note}" if note else "Voided"})
            self._adjust_customer(current["CustomerRef"]["value"],
                                  -Decimal(str(current["Balance"])))
            self._touch(voided)
            self._put("Invoice", voided)
            self._record_write("void", "Invoice", id_)
            return voided

    def void_sales_receipt(self, body: Record) -> Record:
        """``?operation=update&include=void``: amounts zeroed, "Voided" in the memo."""
        with self.lock:
            id_ = str(body.get("Id") or "")
            current = self.require("SalesReceipt", id_)
            self._check_sync_token("SalesReceipt", current, body)
            self._check_open_period(current["TxnDate"])
            voided = copy.deepcopy(current)
            for line in voided.get("Line", []):
                line["Amount"] = ZERO
            note = voided.get("PrivateNote")
            voided.update({"TotalAmt": ZERO, "Balance": ZERO,
                           "PrivateNote": f"Voided - {note}" if note else "Voided"})
            self._touch(voided)
            self._put("SalesReceipt", voided)
            self._record_write("void", "SalesReceipt", id_)
            return voided

    def create_sales_txn(self, entity: str, body: Record) -> Record:
        """Invoice, CreditMemo, RefundReceipt or SalesReceipt."""
        with self.lock:
            customer = self._customer_ref(body)
            lines, total = self._sales_lines(body)
            txn_date = self._txn_date(body)
            self._check_open_period(txn_date)
            doc = body.get("DocNumber")
            doc = None if doc in (None, "") else str(doc)
            self._check_doc_number(entity, doc)
            now = format_qbo_time(self.now())
            record: Record = {
                "Id": self._new_txn_id(), "SyncToken": "0", "domain": "QBO", "sparse": False,
                "TxnDate": txn_date, "CurrencyRef": self._currency(body),
                "CustomerRef": customer, "Line": lines, "TotalAmt": total,
                "TxnTaxDetail": {"TotalTax": 0}, "CustomField": [],
                "MetaData": {"CreateTime": now, "LastUpdatedTime": now},
            }
            if doc is None:
                doc = str(int(record["Id"]) % 100_000)
            record["DocNumber"] = doc
            for name in ("PrivateNote", "PaymentRefNum"):
                if body.get(name):
                    record[name] = _text(body[name], name)
            if entity == "Invoice":
                record["Balance"] = total
                record["LinkedTxn"] = []
                record["DueDate"] = str(body.get("DueDate") or txn_date)
                self._adjust_customer(customer["value"], total)
            elif entity == "CreditMemo":
                record["RemainingCredit"] = total
                record["Balance"] = total
                self._adjust_customer(customer["value"], -total)
            elif entity == "SalesReceipt":  # paid at once: money into a deposit account
                record["DepositToAccountRef"] = self._account_ref(body, "DepositToAccountRef",
                                                                  UNDEPOSITED_FUNDS)
                record["Balance"] = ZERO
                method = self._method_ref(body)
                if method is not None:
                    record["PaymentMethodRef"] = method
            else:  # RefundReceipt: money paid back out of an account
                if _ref_value(body, "DepositToAccountRef") is None:
                    raise required("DepositToAccountRef")
                record["DepositToAccountRef"] = self._account_ref(body, "DepositToAccountRef",
                                                                  UNDEPOSITED_FUNDS)
                record["Balance"] = ZERO
                method = self._method_ref(body)
                if method is not None:
                    record["PaymentMethodRef"] = method
            self._put(entity, record, new=True)
            self._record_write("create", entity, record["Id"])
            return record

    def create_customer(self, body: Record) -> Record:
        with self.lock:
            name = _text(str(body.get("DisplayName") or "").strip(), "DisplayName")
            if not name:
                raise required("DisplayName")
            self._check_name("Customer", name, (r.get("DisplayName", "") for r in
                                                self.iter_records("Customer")))
            self._next_name += 1
            now = format_qbo_time(self.now())
            record: Record = {
                "Id": str(self._next_name), "SyncToken": "0", "domain": "QBO", "sparse": False,
                "DisplayName": name, "FullyQualifiedName": name, "PrintOnCheckName": name,
                "CompanyName": str(body.get("CompanyName") or name), "Active": True,
                "Job": False, "Balance": ZERO, "BalanceWithJobs": ZERO,
                "CurrencyRef": self._currency(body), "PreferredDeliveryMethod": "Print",
                "MetaData": {"CreateTime": now, "LastUpdatedTime": now},
            }
            self._put("Customer", record, new=True)
            self._record_write("create", "Customer", record["Id"])
            return record

    def update_customer(self, body: Record) -> Record:
        """Sparse or full update: name (unique), company name, active, email."""
        with self.lock:
            id_ = str(body.get("Id") or "")
            current = self.require("Customer", id_)
            self._check_sync_token("Customer", current, body)
            updated = copy.deepcopy(current)
            if "DisplayName" in body:
                name = _text(str(body.get("DisplayName") or "").strip(), "DisplayName")
                if not name:
                    raise required("DisplayName")
                if name.casefold() != str(current["DisplayName"]).casefold():
                    self._check_name("Customer", name, (
                        r.get("DisplayName", "") for r in self.iter_records("Customer")
                        if r["Id"] != id_))
                updated.update({"DisplayName": name, "FullyQualifiedName": name,
                                "PrintOnCheckName": name})
                self.renamed[id_] = name
            for field_name in ("CompanyName", "Active", "PrimaryEmailAddr", "BillAddr"):
                if field_name in body:
                    updated[field_name] = body[field_name]
            self._touch(updated)
            self._put("Customer", updated)
            for entity in ("Invoice", "Payment", "CreditMemo", "RefundReceipt"):
                self.version[entity] += 1  # their CustomerRef names changed
            self._record_write("update", "Customer", id_)
            return updated

    def update_payment_method(self, body: Record) -> Record:
        """Sparse or full update of a PaymentMethod: its name (unique) and whether it is active
        (QuickBooks' "delete" of a list entry makes it inactive; reads by id still find it)."""
        with self.lock:
            id_ = str(body.get("Id") or "")
            current = self.require("PaymentMethod", id_)
            self._check_sync_token("PaymentMethod", current, body)
            updated = copy.deepcopy(current)
            if "Name" in body:
                name = _text(str(body.get("Name") or "").strip(), "Name")
                if not name:
                    raise required("Name")
                if name.casefold() != str(current["Name"]).casefold():
                    self._check_name("PaymentMethod", name, (
                        r.get("Name", "") for r in self.iter_records("PaymentMethod")
                        if r["Id"] != id_))
                updated["Name"] = name
            if "Active" in body:
                updated["Active"] = bool(body["Active"])
            self._touch(updated)
            self._put("PaymentMethod", updated)
            self._record_write("update", "PaymentMethod", id_)
            return updated

    def create_list_entry(self, entity: str, body: Record) -> Record:
        """PaymentMethod or Item (name unique within its list)."""
        with self.lock:
            name = _text(str(body.get("Name") or "").strip(), "Name")
            if not name:
                raise required("Name")
            self._check_name(entity, name, (r.get("Name", "") for r in
                                            self.overlay[entity].values()))
            self._next_list += 1
            now = format_qbo_time(self.now())
            record: Record = {"Id": str(self._next_list), "SyncToken": "0", "domain": "QBO",
                              "sparse": False, "Name": name, "Active": True,
                              "MetaData": {"CreateTime": now, "LastUpdatedTime": now}}
            if entity == "PaymentMethod":
                kind = str(body.get("Type") or "NON_CREDIT_CARD")
                if kind not in ("CREDIT_CARD", "NON_CREDIT_CARD"):
                    raise QboFault("2010", "Request has invalid or unsupported property",
                                   f"Property Name:Type value {kind} is not valid",
                                   element="Type")
                record["Type"] = kind
            else:
                income = _ref_value(body, "IncomeAccountRef")
                if income is None:
                    raise required("IncomeAccountRef")
                account = self.get("Account", income)
                if account is None:
                    raise invalid_reference("Account", income)
                record.update({"Type": str(body.get("Type") or "Service"),
                               "FullyQualifiedName": name, "Taxable": False,
                               "UnitPrice": body.get("UnitPrice", 0),
                               "IncomeAccountRef": {"value": account["Id"],
                                                    "name": account["Name"]}})
            self._put(entity, record, new=True)
            self._record_write("create", entity, record["Id"])
            return record

    def _check_name(self, entity: str, name: str, existing: Iterator[str] | Any) -> None:
        wanted = name.casefold()
        if any(str(other).casefold() == wanted for other in existing):
            raise QboFault("6240", "Duplicate Name Exists Error",
                           "The name supplied already exists. : Another customer, vendor or "
                           f"employee is already using this name ({name}). Please use a "
                           "different name." if entity == "Customer" else
                           f"The name supplied already exists. : {name}", element="Name")

    # ------------------------------------------------------------------ admin helpers
    def export_invoice(self, autotask_index: int) -> Record:
        """Export a not-yet-exported invoice now, as Autotask's export would."""
        with self.lock:
            d = self.data
            idx = d.index()
            if autotask_index not in d.not_exported or idx.state[autotask_index]:
                raise ValueError("that invoice is already in QuickBooks")
            idx.state[autotask_index] = 1
            idx.in_qbo = sorted([*idx.in_qbo, autotask_index])
            d.not_exported.discard(autotask_index)
            d._chunks.pop(autotask_index // CHUNK, None)
            if d._doc_numbers is not None:
                d._doc_numbers[d.doc_number(autotask_index)] = autotask_index
            record = d.generated_invoice(autotask_index)
            assert record is not None
            record = copy.deepcopy(record)
            now = format_qbo_time(self.now())
            record["MetaData"] = {"CreateTime": now, "LastUpdatedTime": now}
            self._put("Invoice", record)
            self._ids_cache.pop("Invoice", None)
            self._adjust_customer(record["CustomerRef"]["value"],
                                  Decimal(str(record["TotalAmt"])))
            self._updated_index.pop("Invoice", None)
            self._generated_cache.clear()
            self._customer_index.clear()
            return record

    def payment_counts(self) -> Record:
        with self.lock:
            live = [self.overlay["Payment"][i] for i in self.created["Payment"]
                    if i not in self.deleted["Payment"] and i not in self.entered_in_quickbooks]
            return {
                "created_through_api": self.payments_written,
                "live_created_through_api": len(live),
                "voided": sum(1 for p in live if str(p.get("PrivateNote", "")).startswith(
                    "Voided")),
                "deleted": len(self.deleted["Payment"]),
                "total": len(self.ids("Payment")),
                "payments": [{k: p.get(k) for k in ("Id", "SyncToken", "TotalAmt",
                                                    "UnappliedAmt", "PaymentRefNum",
                                                    "PrivateNote", "CustomerRef", "Line")}
                             for p in live],
            }


def _id_key(id_: str) -> tuple[int, str]:
    return (int(id_), "") if id_.isdigit() else (1 << 62, id_)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return (1, Decimal(str(value)))
    text = str(value)
    if text.isdigit():
        return (1, Decimal(text))
    return (2, text.lower())


def _order_values(query: Query, record: Record) -> tuple[Any, ...]:
    return tuple(_sort_key(lookup(record, name)) for name, _descending in query.order)


def _row_sorter(position: int) -> Any:
    def key(row: tuple[tuple[Any, ...], str]) -> Any:
        return row[0][position]

    return key


def _company_tz() -> Any:
    from app.sandbox.quickbooks_online.data import COMPANY_TZ

    return COMPANY_TZ


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _bisect(index: list[tuple[datetime, str]], since: datetime) -> int:
    lo, hi = 0, len(index)
    while lo < hi:
        mid = (lo + hi) // 2
        if index[mid][0] < since:
            lo = mid + 1
        else:
            hi = mid
    return lo
