"""The QuickBooks Online company the sandbox serves, seeded from the Autotask sandbox's data.

The company is what Autotask's QuickBooks export would have made of the Autotask sandbox
started with the same seed, sizes and anchor month (`app.sandbox.autotask.data`): one
Customer per Autotask organization (``DisplayName`` = the organization's name), one Invoice
per exported Autotask invoice (``DocNumber`` = the Autotask invoice number, ``TxnDate`` the
invoice date, ``DueDate``, one sales line per Autotask invoice line, the tax as
``TxnTaxDetail.TotalTax``, ``TotalAmt`` = Autotask's ``invoiceTotal``), and, for every invoice
Autotask shows as paid, the Payment the bookkeeper entered in QuickBooks at the time
(``Balance`` 0). Voided Autotask invoices were voided before they were exported and are not
in QuickBooks.

Then the books disagree a little, as real ones do (`Disagreement`, listed by the admin API):

* ``not_exported`` — the newest open invoices have not been exported yet (no QuickBooks
  invoice);
* ``customer_renamed`` — someone renamed one customer in QuickBooks (its invoices carry the
  new name in ``CustomerRef.name``);
* ``invoice_edited`` — an open invoice got a line added in QuickBooks (``TotalAmt`` and
  ``Balance`` differ from Autotask's total);
* ``paid_in_quickbooks`` — an open invoice was paid in QuickBooks directly: ``Balance`` 0 and
  a Payment PayDesk did not make;
* ``number_differs`` — an invoice's ``DocNumber`` was changed in QuickBooks, so it can only be
  matched by customer, date and total.

Scale: generating the invoices costs about 6 µs each (100,000 in ~0.6 s), so the sandbox
builds a compact index of every invoice on first use (which are in QuickBooks, their balances
and the customer balances) and materializes invoice records a chunk of 1,000 at a time, on
demand, into a bounded cache. Records changed through the API live in an overlay.
"""

from __future__ import annotations

import random
import threading
from array import array
from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from app.sandbox.autotask.data import CHUNK, DataSizes, SandboxData, _LineCore, _mix

__all__ = [
    "CURRENCY_COUNTRIES",
    "CompanyData",
    "Disagreement",
    "Record",
    "format_qbo_time",
    "money",
]

Record = dict[str, Any]
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# QuickBooks Online answers in the company's time zone; the sandbox company is on Pacific
# standard time all year (no daylight saving), which keeps timestamps simple and parseable.
COMPANY_TZ = timezone(timedelta(hours=-8))

CURRENCY_COUNTRIES = {"USD": "US", "CAD": "CA", "GBP": "GB", "AUD": "AU", "EUR": "FR",
                      "INR": "IN", "NZD": "NZ"}
_CURRENCY_NAMES = {"USD": "United States Dollar", "CAD": "Canadian Dollar",
                   "GBP": "British Pound Sterling", "AUD": "Australian Dollar", "EUR": "Euro",
                   "INR": "Indian Rupee", "NZD": "New Zealand Dollar"}

# Entity ids. Names (Customer) and transactions (Invoice, Payment, ...) have separate id
# sequences, as in QuickBooks Online; lists (Account, Item, PaymentMethod, Term) are small.
TXN_BASE = 100_000
"""Invoice of Autotask invoice index i: ``TXN_BASE + i``; its historical Payment:
``TXN_BASE + invoices + i``; new transactions come after both."""

INCOME_SERVICES = "1"
INCOME_PRODUCTS = "79"
INCOME_SURCHARGE = "92"
UNDEPOSITED_FUNDS = "4"
CHECKING = "35"
ACCOUNTS_RECEIVABLE = "84"
ITEM_SERVICES = "1"
ITEM_HARDWARE = "2"
ITEM_EXPENSES = "3"
ITEM_SURCHARGE = "30"
ITEM_ADJUSTMENT = "31"
METHOD_CHECK = "2"


_ITEM_REFS: dict[int, Record] = {
    1: {"value": ITEM_SERVICES, "name": "Services"},
    2: {"value": ITEM_EXPENSES, "name": "Billable expenses"},
    4: {"value": ITEM_SERVICES, "name": "Services"},
    6: {"value": ITEM_HARDWARE, "name": "Hardware"},
}


def money(value: Decimal | int | str) -> Decimal:
    return Decimal(value).quantize(CENT)


def format_qbo_time(moment: datetime) -> str:
    """QuickBooks' timestamp shape: ``2026-03-01T09:15:02-08:00`` (company time zone)."""
    return moment.astimezone(COMPANY_TZ).replace(microsecond=0).isoformat()


def _day(text: str) -> date:
    return date.fromisoformat(text[:10])


@dataclass(frozen=True)
class Disagreement:
    """One place where QuickBooks and Autotask deliberately disagree."""

    kind: str
    autotask_invoice_id: int
    autotask_invoice_number: str
    quickbooks_invoice_id: str | None
    quickbooks_doc_number: str | None
    customer_id: str
    detail: str

    def as_json(self) -> Record:
        return asdict(self)


class _Index:
    """Compact facts about every Autotask invoice (built once, on first use)."""

    def __init__(self, count: int) -> None:
        self.state = bytearray(count)  # 0 not in QuickBooks, 1 open, 2 paid (historical)
        self.total = array("q", [0]) * count  # minor units, Autotask's total
        self.company = array("l", [0]) * count
        self.day = array("l", [0]) * count  # invoice date ordinal
        self.in_qbo: list[int] = []  # Autotask invoice indexes in QuickBooks, ascending
        self.paid: list[int] = []  # indexes with a historical Payment, ascending
        self.voided: set[int] = set()


class CompanyData:
    """The seeded company: generated invoices, customers and lists, plus disagreements.

    Thread-safety: callers hold the owning store's lock.
    """

    def __init__(self, sizes: DataSizes, *, seed: int, anchor: date | None,
                 currency: str, company_name: str, disagreements: bool = True) -> None:
        self.autotask = SandboxData(sizes, seed=seed, anchor=anchor)
        self.sizes = sizes
        self.seed = seed
        self.currency = currency
        self.company_name = company_name
        self.with_disagreements = disagreements
        self.invoice_count = sizes.invoices
        self.lock = threading.RLock()
        self._index: _Index | None = None
        self._chunks: OrderedDict[int, list[Record]] = OrderedDict()
        self._lines: OrderedDict[int, dict[int, list[_LineCore]]] = OrderedDict()
        self._autotask_chunks: OrderedDict[int, list[Record]] = OrderedDict()
        self._customers: list[Record] | None = None
        self.disagreements: list[Disagreement] = []
        self.renamed: dict[int, str] = {}  # company index -> QuickBooks DisplayName
        self.edited: dict[int, Decimal] = {}  # invoice index -> added amount
        self.renumbered: dict[int, str] = {}  # invoice index -> QuickBooks DocNumber
        self.paid_in_qbo: set[int] = set()
        self.not_exported: set[int] = set()
        self._doc_numbers: dict[str, int] | None = None

    def autotask_chunk(self, chunk: int) -> list[Record]:
        """Autotask's invoices of one chunk (a small cache: pages read them several times)."""
        with self.lock:
            cached = self._autotask_chunks.get(chunk)
            if cached is None:
                cached = self.autotask.invoices.generate(chunk)
                self._autotask_chunks[chunk] = cached
                if len(self._autotask_chunks) > 8:
                    self._autotask_chunks.popitem(last=False)
            else:
                self._autotask_chunks.move_to_end(chunk)
            return cached

    # ------------------------------------------------------------------ ids
    def invoice_id(self, index: int) -> str:
        return str(TXN_BASE + index)

    def historical_payment_id(self, index: int) -> str:
        return str(TXN_BASE + self.invoice_count + index)

    def first_new_txn_id(self) -> int:
        return TXN_BASE + 2 * self.invoice_count + 1000

    def invoice_index(self, qbo_id: str) -> int | None:
        """The Autotask invoice index of a generated QuickBooks invoice id (in QuickBooks)."""
        if not qbo_id.isdigit():
            return None
        index = int(qbo_id) - TXN_BASE
        if 0 <= index < self.invoice_count and self.index().state[index]:
            return index
        return None

    def payment_index(self, qbo_id: str) -> int | None:
        if not qbo_id.isdigit():
            return None
        index = int(qbo_id) - TXN_BASE - self.invoice_count
        if 0 <= index < self.invoice_count and self.index().state[index] == 2:
            return index
        return None

    def customer_id(self, company_index: int) -> str:
        return str(1 + company_index)

    def customer_index(self, qbo_id: str) -> int | None:
        if not qbo_id.isdigit():
            return None
        index = int(qbo_id) - 1
        return index if 0 <= index < self.autotask.companies.count else None

    # ------------------------------------------------------------------ the index
    def index(self) -> _Index:
        with self.lock:
            if self._index is None:
                self._index = self._build_index()
            return self._index

    def _build_index(self) -> _Index:
        at = self.autotask
        count = self.invoice_count
        index = _Index(count)
        anchor = at.anchor
        open_indexes: list[int] = []
        for chunk in range(at.invoices.num_chunks):
            for offset, record in enumerate(at.invoices.generate(chunk)):
                i = chunk * CHUNK + offset
                index.total[i] = int(Decimal(record["invoiceTotal"]) * 100)
                index.company[i] = self._company_of(record)
                index.day[i] = _day(record["invoiceDateTime"]).toordinal()
                if record["isVoided"]:
                    index.voided.add(i)
                    continue
                paid = record["paidDate"] is not None and _day(record["paidDate"]) <= anchor
                index.state[i] = 2 if paid else 1
                if not paid:
                    open_indexes.append(i)
        if self.with_disagreements:
            self._pick_disagreements(index, open_indexes)
        index.in_qbo = [i for i in range(count) if index.state[i]]
        index.paid = [i for i in index.in_qbo if index.state[i] == 2]
        return index

    def _company_of(self, record: Record) -> int:
        table = self.autotask.companies
        found = table.index_of(int(record["companyID"]))
        return found if found is not None else 0

    def _pick_disagreements(self, index: _Index, open_indexes: list[int]) -> None:
        at = self.autotask
        rng = random.Random(_mix(self.seed, 0x0B0))
        if not open_indexes:
            return
        newest = sorted(open_indexes, reverse=True)
        for i in newest[:min(3, max(0, len(newest) - 4))]:
            index.state[i] = 0
            self.not_exported.add(i)
            self._note("not_exported", i, None,
                       "Not exported to QuickBooks yet: there is no QuickBooks invoice.")
        rest = [i for i in open_indexes if i not in self.not_exported]
        rng.shuffle(rest)
        if rest:
            i = rest.pop()
            self.edited[i] = money("25.00")
            self._note("invoice_edited", i, self.invoice_id(i),
                       "Edited in QuickBooks: a 25.00 line was added, so TotalAmt and Balance "
                       "are 25.00 more than Autotask's total.")
        if rest:
            i = rest.pop()
            index.state[i] = 2
            self.paid_in_qbo.add(i)
            self._note("paid_in_quickbooks", i, self.invoice_id(i),
                       "Paid in QuickBooks directly (Balance 0, a Payment PayDesk did not "
                       f"make: Id {self.historical_payment_id(i)}).")
        if rest:
            i = rest.pop()
            self.renumbered[i] = f"{1000 + i}-R"
            self._note("number_differs", i, self.invoice_id(i),
                       f"Its number was changed in QuickBooks to {1000 + i}-R.")
        if rest:
            i = rest.pop()
            company = index.company[i]
            old = at.companies.generate(company // CHUNK)[company % CHUNK]["companyName"]
            self.renamed[company] = _renamed(old)
            self._note("customer_renamed", i, self.invoice_id(i),
                       f"The customer was renamed in QuickBooks: {old!r} is "
                       f"{self.renamed[company]!r} there.")

    def _note(self, kind: str, i: int, qbo_id: str | None, detail: str) -> None:
        record = self.autotask_chunk(i // CHUNK)[i % CHUNK]
        company = self._company_of(record)
        self.disagreements.append(Disagreement(
            kind=kind, autotask_invoice_id=int(record["id"]),
            autotask_invoice_number=str(record["invoiceNumber"]),
            quickbooks_invoice_id=qbo_id,
            quickbooks_doc_number=None if qbo_id is None else self.doc_number(i),
            customer_id=self.customer_id(company), detail=detail))

    def doc_number(self, index: int) -> str:
        return self.renumbered.get(index, str(1000 + index))

    def doc_number_index(self) -> dict[str, int]:
        """DocNumber -> Autotask invoice index, over generated invoices in QuickBooks."""
        with self.lock:
            if self._doc_numbers is None:
                idx = self.index()
                self._doc_numbers = {self.doc_number(i): i for i in idx.in_qbo}
            return self._doc_numbers

    # ------------------------------------------------------------------ customers
    def customers(self) -> list[Record]:
        with self.lock:
            if self._customers is None:
                self._customers = self._build_customers()
            return self._customers

    def _build_customers(self) -> list[Record]:
        at = self.autotask
        idx = self.index()
        balances = [0] * at.companies.count
        for i in idx.in_qbo:
            if idx.state[i] == 1:
                balances[idx.company[i]] += idx.total[i] + int(self.edited.get(i, 0) * 100)
        out: list[Record] = []
        created = datetime.combine(at.start, datetime.min.time(), UTC) + timedelta(hours=17)
        for chunk in range(at.companies.num_chunks):
            for offset, company in enumerate(at.companies.generate(chunk)):
                n = chunk * CHUNK + offset
                name = self.renamed.get(n, company["companyName"])
                balance = Decimal(balances[n]) / 100
                updated = created + timedelta(days=400 if n in self.renamed else 0)
                record: Record = {
                    "Id": self.customer_id(n), "SyncToken": "1" if n in self.renamed else "0",
                    "domain": "QBO", "sparse": False,
                    "DisplayName": name, "CompanyName": name, "FullyQualifiedName": name,
                    "PrintOnCheckName": name, "Active": True, "Job": False,
                    "BillWithParent": False, "Taxable": True,
                    "Balance": balance, "BalanceWithJobs": balance,
                    "CurrencyRef": self.currency_ref(),
                    "PreferredDeliveryMethod": "Print",
                    "PrimaryPhone": {"FreeFormNumber": company["phone"]},
                    "BillAddr": {"Id": str(1000 + n), "Line1": company["address1"],
                                 "City": company["city"],
                                 "CountrySubDivisionCode": company["state"],
                                 "PostalCode": company["postalCode"]},
                    "MetaData": {"CreateTime": format_qbo_time(created),
                                 "LastUpdatedTime": format_qbo_time(updated)},
                }
                email = next((u["value"] for u in company.get("userDefinedFields", [])
                              if u["name"] == "Billing Email"), None)
                if email:
                    record["PrimaryEmailAddr"] = {"Address": email}
                out.append(record)
        return out

    def currency_ref(self) -> Record:
        return {"value": self.currency, "name": _CURRENCY_NAMES.get(self.currency,
                                                                    self.currency)}

    # ------------------------------------------------------------------ invoices
    def invoice_chunk(self, chunk: int) -> list[Record]:
        """Generated QuickBooks invoice headers (no ``Line``) of Autotask chunk ``chunk``;
        None entries are not in QuickBooks."""
        with self.lock:
            cached = self._chunks.get(chunk)
            if cached is not None:
                self._chunks.move_to_end(chunk)
                return cached
            records = self._make_invoice_chunk(chunk)
            self._chunks[chunk] = records
            if len(self._chunks) > 128:
                self._chunks.popitem(last=False)
            return records

    def _make_invoice_chunk(self, chunk: int) -> list[Record]:
        idx = self.index()
        customers = self.customers()
        out: list[Record] = []
        for offset, record in enumerate(self.autotask_chunk(chunk)):
            i = chunk * CHUNK + offset
            state = idx.state[i]
            if not state:
                out.append({})
                continue
            invoice_day = _day(record["invoiceDateTime"])
            # Exported the same day, after Autotask made it (06:00-10:00 UTC): never in the
            # future, since the newest invoices are dated the anchor (the 1st of this month).
            exported = datetime.combine(invoice_day, datetime.min.time(), UTC) + timedelta(
                hours=12)
            total = money(record["invoiceTotal"]) + self.edited.get(i, ZERO)
            customer = customers[idx.company[i]]
            updated = exported
            linked: list[Record] = []
            if state == 2:
                paid_day = self.payment_day(i, record)
                updated = max(exported, datetime.combine(paid_day, datetime.min.time(), UTC)
                              + timedelta(hours=18))
                linked = [{"TxnId": self.historical_payment_id(i), "TxnType": "Payment"}]
            if i in self.edited or i in self.renumbered:
                updated = max(updated, exported + timedelta(hours=3))
            out.append({
                "Id": self.invoice_id(i),
                "SyncToken": "1" if (i in self.edited or i in self.renumbered
                                     or state == 2) else "0",
                "domain": "QBO", "sparse": False,
                "DocNumber": self.doc_number(i),
                "TxnDate": invoice_day.isoformat(),
                "DueDate": record["dueDate"][:10],
                "CurrencyRef": self.currency_ref(),
                "CustomerRef": {"value": customer["Id"], "name": customer["DisplayName"]},
                "TotalAmt": total,
                "Balance": ZERO if state == 2 else total,
                "TxnTaxDetail": {"TotalTax": money(record["totalTaxValue"])},
                "LinkedTxn": linked,
                "ApplyTaxAfterDiscount": False, "PrintStatus": "NotSet",
                "EmailStatus": "NotSet", "Deposit": 0,
                "CustomField": [],
                "PrivateNote": f"Autotask invoice {record['invoiceNumber']}",
                "MetaData": {"CreateTime": format_qbo_time(exported),
                             "LastUpdatedTime": format_qbo_time(updated)},
            })
        return out

    def payment_day(self, i: int, record: Record) -> date:
        if record["paidDate"] is not None:
            return _day(record["paidDate"])
        # Paid in QuickBooks directly (a disagreement): a few days after the invoice date,
        # never after the anchor.
        day = _day(record["invoiceDateTime"]) + timedelta(days=3)
        return min(day, self.autotask.anchor - timedelta(days=1))

    def invoice_lines(self, i: int) -> list[Record]:
        """The sales lines (and the subtotal line) of generated invoice ``i``: one per
        Autotask invoice line, from the same seeded draws as Autotask's BillingItems."""
        chunk = i // CHUNK
        with self.lock:
            by_invoice = self._lines.get(chunk)
            if by_invoice is None:
                at = self.autotask
                draw = at._rng(15, chunk).random  # the stream Autotask draws line money from
                first = chunk * CHUNK
                by_invoice = {index: at._line_cores(index, draw)
                              for index in range(first, min(first + CHUNK, at.invoices.count))}
                self._lines[chunk] = by_invoice
                if len(self._lines) > 32:
                    self._lines.popitem(last=False)
        lines: list[Record] = []
        subtotal = ZERO
        for n, (kind, name, quantity, rate, extended, tax) in enumerate(
                by_invoice.get(i, []), start=1):
            item_ref = _ITEM_REFS.get(kind) or _ITEM_REFS[1]
            subtotal += extended
            lines.append({
                "Id": str(n), "LineNum": n, "Description": name,
                "Amount": extended, "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": item_ref, "UnitPrice": rate, "Qty": quantity,
                    "TaxCodeRef": {"value": "TAX" if tax else "NON"}},
            })
        added = self.edited.get(i)
        if added is not None:
            n = len(lines) + 1
            subtotal += added
            lines.append({
                "Id": str(n), "LineNum": n, "Description": "Late fee (added in QuickBooks)",
                "Amount": added, "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": ITEM_ADJUSTMENT,
                                                    "name": "Late fee"},
                                        "UnitPrice": added, "Qty": 1,
                                        "TaxCodeRef": {"value": "NON"}},
            })
        lines.append({"Amount": subtotal, "DetailType": "SubTotalLineDetail",
                      "SubTotalLineDetail": {}})
        return lines

    def generated_invoice(self, i: int, *, with_lines: bool = True) -> Record | None:
        header = self.invoice_chunk(i // CHUNK)[i % CHUNK]
        if not header:
            return None
        if not with_lines:
            return header
        record = dict(header)
        record["Line"] = self.invoice_lines(i)
        return record

    def generated_payment(self, i: int) -> Record | None:
        idx = self.index()
        if idx.state[i] != 2:
            return None
        autotask = self.autotask_chunk(i // CHUNK)[i % CHUNK]
        invoice = self.invoice_chunk(i // CHUNK)[i % CHUNK]
        day = self.payment_day(i, autotask)
        moment = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=18)
        total = invoice["TotalAmt"]
        return {
            "Id": self.historical_payment_id(i), "SyncToken": "0", "domain": "QBO",
            "sparse": False, "TxnDate": day.isoformat(),
            "CurrencyRef": self.currency_ref(),
            "CustomerRef": dict(invoice["CustomerRef"]),
            "DepositToAccountRef": {"value": CHECKING},
            "PaymentMethodRef": {"value": METHOD_CHECK},
            "PaymentRefNum": str(3000 + i),
            "TotalAmt": total, "UnappliedAmt": ZERO, "ProcessPayment": False,
            "Line": [{"Amount": total, "LinkedTxn": [{"TxnId": invoice["Id"],
                                                      "TxnType": "Invoice"}]}],
            "PrivateNote": "Received by check" if i not in self.paid_in_qbo else
            "Paid by check, entered in QuickBooks",
            "MetaData": {"CreateTime": format_qbo_time(moment),
                         "LastUpdatedTime": format_qbo_time(moment)},
        }

    # ------------------------------------------------------------------ lists
    def lists(self, created: str) -> dict[str, list[Record]]:
        """Accounts, items, payment methods and terms: the company's small lists."""
        meta = {"CreateTime": created, "LastUpdatedTime": created}
        cur = self.currency_ref()

        def account(id_: str, name: str, kind: str, sub: str, classification: str) -> Record:
            return {"Id": id_, "SyncToken": "0", "domain": "QBO", "sparse": False,
                    "Name": name, "FullyQualifiedName": name, "SubAccount": False,
                    "Active": True, "Classification": classification,
                    "AccountType": kind, "AccountSubType": sub, "CurrentBalance": 0,
                    "CurrentBalanceWithSubAccounts": 0, "CurrencyRef": cur,
                    "MetaData": dict(meta)}

        def item(id_: str, name: str, kind: str, income: Record) -> Record:
            return {"Id": id_, "SyncToken": "0", "domain": "QBO", "sparse": False,
                    "Name": name, "FullyQualifiedName": name, "Active": True,
                    "Type": kind, "Taxable": False, "UnitPrice": 0, "TrackQtyOnHand": False,
                    "IncomeAccountRef": income, "MetaData": dict(meta)}

        def method(id_: str, name: str, kind: str) -> Record:
            return {"Id": id_, "SyncToken": "0", "domain": "QBO", "sparse": False,
                    "Name": name, "Active": True, "Type": kind, "MetaData": dict(meta)}

        services = {"value": INCOME_SERVICES, "name": "Services"}
        return {
            "Account": [
                account(INCOME_SERVICES, "Services", "Income", "ServiceFeeIncome", "Revenue"),
                account(UNDEPOSITED_FUNDS, "Undeposited Funds", "Other Current Asset",
                        "UndepositedFunds", "Asset"),
                account(CHECKING, "Checking", "Bank", "Checking", "Asset"),
                account(INCOME_PRODUCTS, "Sales of Product Income", "Income",
                        "SalesOfProductIncome", "Revenue"),
                account(ACCOUNTS_RECEIVABLE, "Accounts Receivable (A/R)",
                        "Accounts Receivable", "AccountsReceivable", "Asset"),
                account(INCOME_SURCHARGE, "Card surcharge income", "Income",
                        "OtherPrimaryIncome", "Revenue"),
                account("93", "Merchant fees", "Expense", "BankCharges", "Expense"),
            ],
            "Item": [
                item(ITEM_SERVICES, "Services", "Service", services),
                item(ITEM_HARDWARE, "Hardware", "NonInventory",
                     {"value": INCOME_PRODUCTS, "name": "Sales of Product Income"}),
                item(ITEM_EXPENSES, "Billable expenses", "Service", services),
                item(ITEM_SURCHARGE, "Card surcharge", "Service",
                     {"value": INCOME_SURCHARGE, "name": "Card surcharge income"}),
                item(ITEM_ADJUSTMENT, "Late fee", "Service", services),
            ],
            # "Credit Card" and "ACH" are missing on purpose: PayDesk creates them.
            "PaymentMethod": [
                method("1", "Cash", "NON_CREDIT_CARD"),
                method(METHOD_CHECK, "Check", "NON_CREDIT_CARD"),
                method("3", "Visa", "CREDIT_CARD"),
                method("4", "MasterCard", "CREDIT_CARD"),
                method("5", "American Express", "CREDIT_CARD"),
            ],
            "Term": [
                {"Id": "3", "SyncToken": "0", "Name": "Net 30", "Active": True, "Type":
                 "STANDARD", "DueDays": 30, "MetaData": dict(meta)},
                {"Id": "1", "SyncToken": "0", "Name": "Due on receipt", "Active": True,
                 "Type": "STANDARD", "DueDays": 0, "MetaData": dict(meta)},
            ],
        }


def _renamed(name: str) -> str:
    """How a bookkeeper would rename a customer: spell out "&", add a comma, or a suffix."""
    if " & " in name:
        return name.replace(" & ", " and ", 1)
    for legal in (" LLC", " Inc.", " Ltd", " GmbH", " LLP", " PC", " Corp."):
        if legal in name:
            return name.replace(legal, "," + legal, 1)
    return name + " (billing)"
