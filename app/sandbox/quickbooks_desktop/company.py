"""A QuickBooks Desktop company file that answers qbXML, seeded from the Autotask sandbox.

Customers are the Autotask sandbox's companies and invoices its (not voided) invoices for the
same seed, so PayDesk's synced invoices correspond — with the disagreements a real MSP's books
have: the newest invoices are **not exported yet**, a few customers were **renamed** in
QuickBooks, a few invoices were **edited** there (another number, same customer, date and
total), and one open invoice was **paid directly** in QuickBooks.

It answers what PayDesk asks (HostQuery, CompanyQuery, PreferencesQuery, CustomerQuery and
InvoiceQuery with iterators, PaymentMethodQuery, ReceivePaymentAdd / Query / Mod — a
PaymentMethodRef must name an entry of its Payment Method list) with QuickBooks' status codes,
keeps balances as QuickBooks would, and has a closing date. Iterators live until
:meth:`CompanyFile.end_session` (as QuickBooks' do), so a cut session cannot continue one.

Threads: every call holds the file's lock.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from lxml import etree

from app.sandbox.autotask.data import DataSizes, SandboxData

__all__ = ["CompanyFile", "Disagreements"]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
ZERO = Decimal("0.00")
#: QuickBooks writes times in the company file's local time with its offset.
LOCAL = timezone(timedelta(hours=-5))


@dataclass
class Disagreements:
    """What differs between Autotask and this company file (ids are Autotask's)."""

    not_exported: list[int] = field(default_factory=list)
    renamed_customers: dict[int, str] = field(default_factory=dict)
    edited_invoices: dict[int, str] = field(default_factory=dict)  # id -> new RefNumber
    paid_directly: list[int] = field(default_factory=list)


class CompanyFile:
    """See the module docstring."""

    def __init__(self, *, seed: int = 7, sizes: DataSizes | None = None,
                 company_name: str = "Northwind IT Services LLC", currency_name: str =
                 "US Dollar", country: str = "US",
                 versions: tuple[str, ...] = ("1.0", "2.0", "3.0", "4.0", "5.0", "6.0", "7.0",
                                              "8.0", "9.0", "10.0", "11.0", "12.0", "13.0"),
                 closing_date: date | None = None, not_exported: int = 3,
                 renamed: int = 2, edited: int = 2, paid_directly: int = 1) -> None:
        self.lock = threading.RLock()
        self.company_name = company_name
        self.currency_name = currency_name
        self.country = country
        self.versions = versions
        self.closing_date = closing_date
        self.file_path = r"C:\Users\Public\Documents\Intuit\QuickBooks\Company Files\northwind.qbw"
        self.data = SandboxData(sizes or DataSizes(), seed=seed)
        self._clock = datetime(2020, 1, 1, tzinfo=UTC)
        self._txn_counter = itertools.count(0x10000)
        self.customers: dict[str, dict[str, Any]] = {}
        self.customer_of_company: dict[int, str] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.invoice_of_autotask: dict[int, str] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        #: The company file's Payment Method list (QuickBooks Desktop's starting list).
        self.payment_methods: list[str] = ["American Express", "Cash", "Check", "Discover",
                                           "E-Check", "MasterCard", "Visa"]
        self.iterators: dict[str, tuple[list[str], int]] = {}
        self.requests_seen: list[str] = []
        self.disagreements = Disagreements()
        #: Someone edits the payment in QuickBooks just before the next ReceivePaymentMod
        #: arrives (it then fails with 3200, edit sequence out of date).
        self.edit_before_next_mod = False
        self._seed(seed, not_exported, renamed, edited, paid_directly)

    # --- seeding ------------------------------------------------------------------------------
    def _stamp(self) -> datetime:
        # Every change gets a later TimeModified (QuickBooks' are whole seconds).
        now = datetime.now(UTC).replace(microsecond=0)
        self._clock = max(self._clock + timedelta(seconds=1), now)
        return self._clock

    def _new_txn_id(self) -> str:
        return f"{next(self._txn_counter):X}-{1_600_000_000 + len(self.payments)}"

    def _seed(self, seed: int, not_exported: int, renamed: int, edited: int,
              paid_directly: int) -> None:
        rng = random.Random(seed * 7919 + 13)
        with self.data.lock:
            companies = list(self.data.companies.iter_from(None))
            invoices = [r for r in self.data.invoices.iter_from(None) if not r["isVoided"]]
        base_time = datetime(2024, 1, 1, 12, tzinfo=UTC)
        for n, company in enumerate(companies):
            list_id = f"{0x80000001 + n:X}-{1_500_000_000 + n}"
            self.customer_of_company[company["id"]] = list_id
            self.customers[list_id] = {
                "ListID": list_id, "Name": company["companyName"][:41],
                "FullName": company["companyName"][:41], "CompanyName": company["companyName"],
                "IsActive": True, "EditSequence": "1", "TimeModified": base_time,
                "company_id": company["id"]}
        for list_id in rng.sample(sorted(self.customers), min(renamed, len(self.customers))):
            customer = self.customers[list_id]
            customer["FullName"] = customer["Name"] = (customer["Name"] + " Inc.")[:41]
            self.disagreements.renamed_customers[customer["company_id"]] = customer["FullName"]
        # The newest invoices have not been exported to QuickBooks yet.
        invoices.sort(key=lambda r: r["id"])
        held_back = {r["id"] for r in invoices[-not_exported:]} if not_exported else set()
        self.disagreements.not_exported = sorted(held_back)
        for n, record in enumerate(invoices):
            if record["id"] in held_back:
                continue
            txn_id = f"{0x20000 + n:X}-{1_550_000_000 + n}"
            total = Decimal(record["invoiceTotal"]).quantize(Decimal("0.01"))
            tax = Decimal(record.get("totalTaxValue") or 0).quantize(Decimal("0.01"))
            paid = record.get("paidDate") is not None
            list_id = self.customer_of_company[record["companyID"]]
            self.invoices[txn_id] = {
                "TxnID": txn_id, "RefNumber": record["invoiceNumber"], "CustomerRef": list_id,
                "TxnDate": record["invoiceDateTime"][:10], "DueDate": record["dueDate"][:10],
                "Subtotal": total - tax, "SalesTaxTotal": tax,
                "BalanceRemaining": ZERO if paid else total, "EditSequence": "1",
                "TimeModified": base_time + timedelta(seconds=n % 100_000),
                "autotask_id": record["id"]}
            self.invoice_of_autotask[record["id"]] = txn_id
        open_ids = sorted(t for t, inv in self.invoices.items() if inv["BalanceRemaining"] > 0)
        for txn_id in rng.sample(open_ids, min(edited, len(open_ids))):
            invoice = self.invoices[txn_id]
            invoice["RefNumber"] = f"{invoice['RefNumber']}-QB"
            self.disagreements.edited_invoices[invoice["autotask_id"]] = invoice["RefNumber"]
        open_ids = [t for t in open_ids if "-QB" not in self.invoices[t]["RefNumber"]]
        for txn_id in rng.sample(open_ids, min(paid_directly, len(open_ids))):
            invoice = self.invoices[txn_id]
            self._add_payment(invoice["CustomerRef"], invoice["TxnDate"], "CHK-1001",
                              self._total(invoice), "Cheque received at the office",
                              [(txn_id, self._total(invoice))])
            self.disagreements.paid_directly.append(invoice["autotask_id"])

    @staticmethod
    def _total(invoice: dict[str, Any]) -> Decimal:
        return Decimal(invoice["Subtotal"]) + Decimal(invoice["SalesTaxTotal"])

    def _add_payment(self, customer: str, txn_date: str, ref: str | None, total: Decimal,
                     memo: str | None, applied: list[tuple[str, Decimal]],
                     method: str | None = None) -> dict[str, Any]:
        txn_id = self._new_txn_id()
        now = self._stamp()
        payment = {"TxnID": txn_id, "CustomerRef": customer, "TxnDate": txn_date,
                   "RefNumber": ref, "TotalAmount": total, "Memo": memo,
                   "PaymentMethod": method,
                   "EditSequence": "1", "TimeModified": now, "applied": dict(applied)}
        self.payments[txn_id] = payment
        for invoice_txn, amount in applied:
            invoice = self.invoices[invoice_txn]
            invoice["BalanceRemaining"] -= amount
            self._touch(invoice)
        return payment

    def _touch(self, record: dict[str, Any]) -> None:
        record["EditSequence"] = str(int(record["EditSequence"]) + 1)
        record["TimeModified"] = self._stamp()

    # --- what the Web Connector and the COM twin call -----------------------------------------
    def end_session(self) -> None:
        """QuickBooks forgets iterators when the connection closes."""
        with self.lock:
            self.iterators.clear()

    def hcp_response(self) -> str:
        """The Web Connector's first answer: HostQuery, CompanyQuery and PreferencesQuery."""
        return self.process(
            '<?xml version="1.0"?><?qbxml version="1.0"?><QBXML><QBXMLMsgsRq '
            'onError="continueOnError"><HostQueryRq requestID="1"/><CompanyQueryRq '
            'requestID="2"/><PreferencesQueryRq requestID="3"/></QBXMLMsgsRq></QBXML>')

    def process(self, request_xml: str) -> str:
        """Answer one qbXML message (as QuickBooks' request processor does)."""
        with self.lock:
            root_out = etree.Element("QBXML")
            msgs_out = etree.SubElement(root_out, "QBXMLMsgsRs")
            try:
                doc = etree.fromstring(request_xml.strip().encode("utf-8"), _PARSER)
            except etree.XMLSyntaxError:
                raise ValueError("QuickBooks found an error when parsing the provided XML "
                                 "text stream.") from None
            version = self._version_of(request_xml)
            if version not in self.versions:
                raise ValueError(f"The request specifies qbXML version {version}, which this "
                                 "QuickBooks does not support.")
            msgs = doc.find("QBXMLMsgsRq")
            if msgs is None:
                raise ValueError("QuickBooks found no QBXMLMsgsRq.")
            stop = msgs.get("onError", "stopOnError") == "stopOnError"
            for rq in msgs:
                if not isinstance(rq.tag, str):
                    continue
                self.requests_seen.append(rq.tag)
                rs = self._answer(rq)
                msgs_out.append(rs)
                if stop and rs.get("statusSeverity") == "Error":
                    break
            body = etree.tostring(root_out, encoding="unicode")
            return f'<?xml version="1.0" ?>\n{body}'

    @staticmethod
    def _version_of(text: str) -> str:
        marker = '<?qbxml version="'
        start = text.find(marker)
        if start < 0:
            return ""
        start += len(marker)
        return text[start:text.find('"', start)]

    # --- answers ------------------------------------------------------------------------------
    def _rs(self, rq: etree._Element, code: int = 0, message: str = "Status OK",
            severity: str | None = None) -> etree._Element:
        name = rq.tag[:-2] + "Rs"
        rs = etree.Element(name, requestID=rq.get("requestID", ""), statusCode=str(code),
                           statusSeverity=severity or ("Info" if code in (0, 1) else "Error"),
                           statusMessage=message)
        return rs

    def _answer(self, rq: etree._Element) -> etree._Element:
        handler = getattr(self, "_do_" + rq.tag, None)
        if handler is None:
            return self._rs(rq, 3, f"The request {rq.tag} is not supported by this sandbox.")
        result: etree._Element = handler(rq)
        return result

    def _do_HostQueryRq(self, rq: etree._Element) -> etree._Element:
        rs = self._rs(rq)
        ret = etree.SubElement(rs, "HostRet")
        _sub(ret, "ProductName", "QuickBooks Enterprise Solutions 24.0")
        _sub(ret, "MajorVersion", "34")
        _sub(ret, "MinorVersion", "0")
        _sub(ret, "Country", self.country)
        for version in self.versions:
            _sub(ret, "SupportedQBXMLVersion", version)
        _sub(ret, "IsAutomaticLogin", "false")
        _sub(ret, "QBFileMode", "SingleUser")
        return rs

    def _do_CompanyQueryRq(self, rq: etree._Element) -> etree._Element:
        rs = self._rs(rq)
        ret = etree.SubElement(rs, "CompanyRet")
        _sub(ret, "IsSampleCompany", "false")
        _sub(ret, "CompanyName", self.company_name)
        address = etree.SubElement(ret, "LegalAddress")
        _sub(address, "Country", self.country)
        return rs

    def _do_PreferencesQueryRq(self, rq: etree._Element) -> etree._Element:
        rs = self._rs(rq)
        ret = etree.SubElement(rs, "PreferencesRet")
        multi = etree.SubElement(ret, "MultiCurrencyPreferences")
        _sub(multi, "IsMultiCurrencyOn", "true")
        home = etree.SubElement(multi, "HomeCurrencyRef")
        _sub(home, "FullName", self.currency_name)
        return rs

    def _page(self, rq: etree._Element, ids: list[str]) -> tuple[etree._Element, list[str]]:
        """Iterator handling shared by the list queries."""
        mode = rq.get("iterator")
        limit_text = rq.findtext("MaxReturned")
        limit = int(limit_text) if limit_text else len(ids) or 1
        if mode == "Continue":
            iterator_id = rq.get("iteratorID", "")
            if iterator_id not in self.iterators:
                rs = self._rs(rq, 3, f"The iteratorID {iterator_id} is not valid (QuickBooks "
                              "forgets iterators when the session ends).")
                return rs, []
            snapshot, position = self.iterators[iterator_id]
        elif mode == "Start":
            iterator_id = "{" + f"{random.getrandbits(64):016x}" + "}"
            snapshot, position = ids, 0
        else:
            return self._rs(rq), ids[:limit]
        page = snapshot[position:position + limit]
        position += len(page)
        remaining = len(snapshot) - position
        if remaining:
            self.iterators[iterator_id] = (snapshot, position)
        else:
            self.iterators.pop(iterator_id, None)
        rs = self._rs(rq) if page else self._rs(
            rq, 1, "A query request did not find a matching object in QuickBooks")
        rs.set("iteratorRemainingCount", str(remaining))
        rs.set("iteratorID", iterator_id)
        return rs, page

    @staticmethod
    def _modified_since(rq: etree._Element, path: str) -> datetime | None:
        text = rq.findtext(path)
        return datetime.fromisoformat(text) if text else None

    def _do_PaymentMethodQueryRq(self, rq: etree._Element) -> etree._Element:
        if not self.payment_methods:
            return self._rs(rq, 1, "A query request did not find a matching object in "
                            "QuickBooks")
        wanted = {e.text for e in rq.findall("IncludeRetElement")}
        rs = self._rs(rq)
        for n, name in enumerate(self.payment_methods, start=1):
            ret = etree.SubElement(rs, "PaymentMethodRet")
            for tag, text in (("ListID", f"{n:X}0000-1600000000"), ("Name", name),
                              ("IsActive", "true")):
                if not wanted or tag in wanted:
                    _sub(ret, tag, text)
        return rs

    def _do_CustomerQueryRq(self, rq: etree._Element) -> etree._Element:
        since = self._modified_since(rq, "FromModifiedDate")
        ids = [k for k, c in self.customers.items() if since is None
               or c["TimeModified"] >= since]
        rs, page = self._page(rq, ids)
        for list_id in page:
            c = self.customers[list_id]
            ret = etree.SubElement(rs, "CustomerRet")
            _sub(ret, "ListID", list_id)
            _sub(ret, "TimeModified", _qb_time(c["TimeModified"]))
            _sub(ret, "EditSequence", c["EditSequence"])
            _sub(ret, "Name", c["Name"])
            _sub(ret, "FullName", c["FullName"])
            _sub(ret, "IsActive", "true" if c["IsActive"] else "false")
            _sub(ret, "CompanyName", c["CompanyName"])
        return rs

    def _do_InvoiceQueryRq(self, rq: etree._Element) -> etree._Element:
        wanted = [e.text or "" for e in rq.findall("TxnID")]
        if wanted:
            missing = [t for t in wanted if t not in self.invoices]
            if missing:
                return self._rs(rq, 500, "The query request has not been fully completed. "
                                f"There was a required element (\"{missing[0]}\") that could "
                                "not be found in QuickBooks.", "Warn")
            rs, page = self._rs(rq), wanted
        else:
            since = self._modified_since(rq, "ModifiedDateRangeFilter/FromModifiedDate")
            ids = [k for k, i in self.invoices.items() if since is None
                   or i["TimeModified"] >= since]
            rs, page = self._page(rq, ids)
        for txn_id in page:
            rs.append(self._invoice_ret(self.invoices[txn_id]))
        return rs

    def _invoice_ret(self, i: dict[str, Any]) -> etree._Element:
        ret = etree.Element("InvoiceRet")
        _sub(ret, "TxnID", i["TxnID"])
        _sub(ret, "TimeModified", _qb_time(i["TimeModified"]))
        _sub(ret, "EditSequence", i["EditSequence"])
        customer = self.customers[i["CustomerRef"]]
        ref = etree.SubElement(ret, "CustomerRef")
        _sub(ref, "ListID", i["CustomerRef"])
        _sub(ref, "FullName", customer["FullName"])
        _sub(ret, "TxnDate", i["TxnDate"])
        _sub(ret, "RefNumber", i["RefNumber"])
        _sub(ret, "DueDate", i["DueDate"])
        _sub(ret, "Subtotal", _amount(i["Subtotal"]))
        _sub(ret, "SalesTaxTotal", _amount(i["SalesTaxTotal"]))
        _sub(ret, "AppliedAmount", _amount(-(self._total(i) - i["BalanceRemaining"])))
        _sub(ret, "BalanceRemaining", _amount(i["BalanceRemaining"]))
        _sub(ret, "IsPaid", "true" if i["BalanceRemaining"] == 0 else "false")
        return ret

    def _payment_ret(self, p: dict[str, Any]) -> etree._Element:
        ret = etree.Element("ReceivePaymentRet")
        _sub(ret, "TxnID", p["TxnID"])
        _sub(ret, "TimeModified", _qb_time(p["TimeModified"]))
        _sub(ret, "EditSequence", p["EditSequence"])
        ref = etree.SubElement(ret, "CustomerRef")
        _sub(ref, "ListID", p["CustomerRef"])
        _sub(ret, "TxnDate", p["TxnDate"])
        if p["RefNumber"]:
            _sub(ret, "RefNumber", p["RefNumber"])
        _sub(ret, "TotalAmount", _amount(p["TotalAmount"]))
        if p.get("PaymentMethod"):
            method = etree.SubElement(ret, "PaymentMethodRef")
            _sub(method, "FullName", p["PaymentMethod"])
        if p["Memo"]:
            _sub(ret, "Memo", p["Memo"])
        unused = p["TotalAmount"] - sum(p["applied"].values(), ZERO)
        _sub(ret, "UnusedPayment", _amount(unused))
        for txn_id, amount in p["applied"].items():
            applied = etree.SubElement(ret, "AppliedToTxnRet")
            _sub(applied, "TxnID", txn_id)
            _sub(applied, "TxnType", "Invoice")
            _sub(applied, "Amount", _amount(amount))
        return ret

    def _do_ReceivePaymentQueryRq(self, rq: etree._Element) -> etree._Element:
        refs = {e.text for e in rq.findall("RefNumber")}
        found = [p for p in self.payments.values() if not refs or p["RefNumber"] in refs]
        if not found:
            return self._rs(rq, 1, "A query request did not find a matching object in "
                            "QuickBooks")
        rs = self._rs(rq)
        for p in found:
            rs.append(self._payment_ret(p))
        return rs

    def _closed(self, rq: etree._Element, txn_date: str) -> etree._Element | None:
        if self.closing_date is not None and date.fromisoformat(txn_date) <= self.closing_date:
            return self._rs(rq, 3170, "There was an error when saving a ReceivePayment. "
                            "QuickBooks error message: The transaction date is on or before "
                            "the closing date of the company file.")
        return None

    def _do_ReceivePaymentAddRq(self, rq: etree._Element) -> etree._Element:
        add = rq.find("ReceivePaymentAdd")
        assert add is not None
        customer = add.findtext("CustomerRef/ListID") or ""
        if customer not in self.customers:
            return self._rs(rq, 3140, f"There is an invalid reference to QuickBooks Customer "
                            f"\"{customer}\" in the ReceivePayment.")
        method = add.findtext("PaymentMethodRef/FullName")
        if method is not None and method.casefold() not in {
                m.casefold() for m in self.payment_methods}:
            return self._rs(rq, 3140, f"There is an invalid reference to QuickBooks "
                            f"PaymentMethod \"{method}\" in the ReceivePayment.")
        txn_date = add.findtext("TxnDate") or datetime.now(LOCAL).date().isoformat()
        closed = self._closed(rq, txn_date)
        if closed is not None:
            return closed
        ref = add.findtext("RefNumber")
        total = Decimal(add.findtext("TotalAmount") or "0")
        applied: list[tuple[str, Decimal]] = []
        for item in add.findall("AppliedToTxnAdd"):
            txn_id = item.findtext("TxnID") or ""
            amount = Decimal(item.findtext("PaymentAmount") or "0")
            invoice = self.invoices.get(txn_id)
            if invoice is None or invoice["CustomerRef"] != customer:
                return self._rs(rq, 3120, f"Object \"{txn_id}\" specified in the request "
                                "cannot be found.")
            if amount > invoice["BalanceRemaining"]:
                return self._rs(rq, 3180, "There was an error when saving a ReceivePayment. "
                                "QuickBooks error message: The payment amount is more than "
                                "the invoice's open balance.")
            applied.append((txn_id, amount))
        payment = self._add_payment(customer, txn_date, ref, total,
                                    add.findtext("Memo"), applied, method)
        rs = self._rs(rq)
        rs.append(self._payment_ret(payment))
        return rs

    def _do_ReceivePaymentModRq(self, rq: etree._Element) -> etree._Element:
        mod = rq.find("ReceivePaymentMod")
        assert mod is not None
        payment = self.payments.get(mod.findtext("TxnID") or "")
        if payment is None:
            return self._rs(rq, 3120, "Object specified in the request cannot be found.")
        if self.edit_before_next_mod:
            self.edit_before_next_mod = False
            self._touch(payment)
        if mod.findtext("EditSequence") != payment["EditSequence"]:
            sent = mod.findtext("EditSequence")
            return self._rs(rq, 3200, f"The provided edit sequence \"{sent}\" is out-of-date.")
        closed = self._closed(rq, payment["TxnDate"])
        if closed is not None:
            return closed
        new_applied = dict(payment["applied"])
        for item in mod.findall("AppliedToTxnMod"):
            txn_id = item.findtext("TxnID") or ""
            if txn_id not in self.invoices:
                return self._rs(rq, 3120, f"Object \"{txn_id}\" specified in the request "
                                "cannot be found.")
            new_applied[txn_id] = Decimal(item.findtext("PaymentAmount") or "0")
        for txn_id, amount in new_applied.items():
            invoice = self.invoices[txn_id]
            delta = amount - payment["applied"].get(txn_id, ZERO)
            if delta > invoice["BalanceRemaining"]:
                return self._rs(rq, 3180, "There was an error when saving a ReceivePayment. "
                                "QuickBooks error message: The payment amount is more than "
                                "the invoice's open balance.")
        for txn_id, amount in new_applied.items():
            invoice = self.invoices[txn_id]
            delta = amount - payment["applied"].get(txn_id, ZERO)
            if delta:
                invoice["BalanceRemaining"] -= delta
                self._touch(invoice)
        payment["applied"] = {t: a for t, a in new_applied.items() if a}
        total_text = mod.findtext("TotalAmount")
        if total_text is not None:
            payment["TotalAmount"] = Decimal(total_text)
        if mod.find("Memo") is not None:
            payment["Memo"] = mod.findtext("Memo")
        self._touch(payment)
        rs = self._rs(rq)
        rs.append(self._payment_ret(payment))
        return rs

    # --- for tests and the admin view -------------------------------------------------------
    def payments_with_ref(self, ref: str) -> list[dict[str, Any]]:
        with self.lock:
            return [p for p in self.payments.values() if p["RefNumber"] == ref]

    def invoice_for_autotask(self, invoice_id: int) -> dict[str, Any] | None:
        with self.lock:
            txn_id = self.invoice_of_autotask.get(invoice_id)
            return dict(self.invoices[txn_id]) if txn_id else None

    def touch_invoices(self, count: int) -> Iterator[str]:
        """Change ``count`` invoices (a new EditSequence and TimeModified)."""
        with self.lock:
            for txn_id in list(self.invoices)[:count]:
                self._touch(self.invoices[txn_id])
                yield txn_id


def _sub(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(parent, tag).text = text


def _amount(value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))


def _qb_time(moment: datetime) -> str:
    return moment.astimezone(LOCAL).isoformat(timespec="seconds")
