"""The QuickBooks Online posting channel (``quickbooks_online``, push).

**Rules** (no network, in the pipeline's transaction):

* :class:`~app.core.posting.channels.PaymentRecorded` → one ``quickbooks_online_payment``
  posting: a QuickBooks **Payment** for the customer, one line per invoice it pays (linked to
  the matched QuickBooks invoice), ``TotalAmt`` = what went to invoices,
  ``PaymentRefNum`` = the gateway's transaction id, ``PrivateNote`` naming PayDesk's reference,
  deposit account from the connection's settings (default: no ``DepositToAccountRef``,
  which QuickBooks books to Undeposited Funds) and the payment method chosen in Settings ›
  Posting (:mod:`app.core.quickbooks.payment_methods`; default "Credit Card" and "ACH",
  created on first use when missing; a chosen method gone from QuickBooks fails the posting
  for a person, never silently replaced).
  A surcharge adds a ``quickbooks_online_surcharge`` posting: a **SalesReceipt** with one line
  on the "Card surcharge" service item (income; created on first use), deposited like the
  payment — never part of the invoice payment, so invoice balances stay what PayDesk says.
* :class:`~app.core.posting.channels.RefundRecorded` → one ``quickbooks_online_refund``
  posting that **re-states the Payment at what the client kept**: the lines of the refunded
  invoices are lowered by what the refund took back (so each QuickBooks invoice's balance
  opens again by exactly PayDesk's amount), ``TotalAmt`` drops by the refund (the money out,
  credited to the same deposit account), and the Payment's memo records the refund
  (amount, date, the gateway's refund id, PayDesk's reference). A full refund leaves a $0
  Payment with that memo. See ``docs/quickbooks.md`` for why this form.
* :class:`~app.core.posting.channels.RefundReversed` → ``quickbooks_online_refund_reversed``:
  the same Payment raised back by the reversed amounts, with a memo line.

**Exactly once.** Payments and sales receipts are created with a ``requestid`` derived from the
posting key (QuickBooks replays the first answer for a repeat); before a retry,
:meth:`QuickBooksOnlineDeliverer.find_existing` looks for the object by PayDesk's reference in
the memo (``PayDesk P-…``). Refund changes carry their reference in the memo line they add,
written in the same update as the amounts, so a repeat sees it and does nothing.

**Waiting.** A posting whose invoice is not matched to a QuickBooks invoice yet raises
:class:`~app.core.posting.channels.PostingWaiting` naming the invoice and why; it goes once
the invoice is matched (automatically at the next sync, or by hand).

Threads: rules run on the pipeline's thread; the deliverer on posting workers.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.core.credentials import CredentialStore
from app.core.money import Money
from app.core.posting.channels import (
    ChannelDelivery,
    ClaimedPosting,
    LedgerFact,
    NewPosting,
    PaymentRecorded,
    PostingError,
    PostingErrorKind,
    PostingWaiting,
    RefundRecorded,
    RefundReversed,
    register_channel,
)
from app.core.quickbooks.books import SOURCE_ONLINE
from app.core.quickbooks.online.client import QuickBooksOnlineClient, quote_value
from app.core.quickbooks.online.connection import (
    CONNECTION_SETTING,
    load_connection,
    save_connection,
)
from app.core.quickbooks.online.errors import (
    QuickBooksClosedPeriodError,
    QuickBooksConnectionError,
    QuickBooksCurrencyError,
    QuickBooksDisconnectedError,
    QuickBooksDuplicateDocNumberError,
    QuickBooksDuplicateNameError,
    QuickBooksError,
    QuickBooksInvalidReferenceError,
    QuickBooksNotFoundError,
    QuickBooksServerError,
    QuickBooksStaleObjectError,
    QuickBooksThrottledError,
    QuickBooksValidationError,
)
from app.core.quickbooks.payment_methods import (
    DEFAULT_BANK_METHOD,
    DEFAULT_CARD_METHOD,
    OnlineMethod,
    is_bank_method,
    load_online_methods,
)
from app.core.storage.engine import session_scope
from app.core.storage.models import (
    Invoice,
    Organization,
    Payment,
    Posting,
    QuickBooksInvoice,
    QuickBooksInvoiceMatch,
    Refund,
    Setting,
)

__all__ = [
    "TARGET_PAYMENT",
    "TARGET_REFUND",
    "TARGET_REFUND_REVERSED",
    "TARGET_SURCHARGE",
    "QuickBooksOnlineChannel",
    "QuickBooksOnlineDeliverer",
    "request_id_for",
]

TARGET_PAYMENT = "quickbooks_online_payment"
TARGET_SURCHARGE = "quickbooks_online_surcharge"
TARGET_REFUND = "quickbooks_online_refund"
TARGET_REFUND_REVERSED = "quickbooks_online_refund_reversed"

CARD_METHOD_NAME = DEFAULT_CARD_METHOD
BANK_METHOD_NAME = DEFAULT_BANK_METHOD
SURCHARGE_ITEM_NAME = "Card surcharge"
SURCHARGE_ACCOUNT_NAME = "Card surcharge income"
WAIT = timedelta(minutes=5)


def request_id_for(key: str) -> str:
    """QuickBooks' ``requestid`` for a posting key: stable, unique, at most 50 characters."""
    return "pd-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def payment_marker(reference: str) -> str:
    return f"PayDesk {reference}"


def _amount(minor: int, currency: str) -> str:
    return str(Money(minor, currency).to_decimal())


# --- the rules ------------------------------------------------------------------------------


def _invoice_labels(session: Session, ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(select(Invoice.id, Invoice.invoice_number).where(Invoice.id.in_(ids)))
    return {int(i): (n or str(i)) for i, n in rows}


class QuickBooksOnlineChannel:
    """The rules; no state of its own."""

    def __init__(self) -> None:
        self.name = "quickbooks_online"
        self.label = "QuickBooks Online"
        self.delivery = ChannelDelivery.PUSH
        self.targets: Mapping[str, str] = {
            TARGET_PAYMENT: "QuickBooks Online payment",
            TARGET_SURCHARGE: "QuickBooks Online surcharge",
            TARGET_REFUND: "QuickBooks Online refund",
            TARGET_REFUND_REVERSED: "QuickBooks Online refund reversal",
        }

    def is_connected(self, session: Session) -> bool:
        row = session.get(Setting, CONNECTION_SETTING)
        value = row.value.get("v") if row is not None else None
        return isinstance(value, dict) and bool(value.get("realm_id"))

    def postings_for(self, session: Session, fact: LedgerFact) -> Sequence[NewPosting]:
        payment = session.get(Payment, fact.payment_id)
        if payment is None:
            return []
        currency = payment.currency
        labels = _invoice_labels(session, [i for i, _ in fact.allocations])
        lines = [{"invoice_id": i, "invoice_number": labels.get(i, str(i)),
                  "amount": _amount(a, currency)} for i, a in fact.allocations]
        org = session.get(Organization, payment.organization_id)
        base = {
            "payment_reference": payment.reference,
            "currency": currency,
            "organization_name": org.name if org is not None else "",
            "txn_date": fact.at.date().isoformat(),
            "lines": lines,
        }
        if isinstance(fact, PaymentRecorded):
            key = f"qbo:payment:{payment.reference}"
            transaction = payment.gateway_transaction_id or payment.gateway_payment_id
            note = (f"{payment_marker(payment.reference)} — "
                    f"{payment.method_summary or 'payment'} via {payment.gateway}"
                    + (f", transaction {transaction}" if transaction else "")
                    + (" (test mode)" if payment.test_mode else ""))
            out = [NewPosting(target=TARGET_PAYMENT, key=key, payment_id=payment.id, payload={
                **base, "kind": "payment", "request_id": request_id_for(key),
                "total": _amount(sum(a for _, a in fact.allocations), currency),
                "method_type": payment.method_type or "card",
                "reference_number": (payment.gateway_transaction_id
                                     or payment.gateway_payment_id or payment.reference)[:21],
                "private_note": note[:4000],
            })]
            if payment.surcharge_minor > 0:
                skey = f"qbo:surcharge:{payment.reference}"
                out.append(NewPosting(target=TARGET_SURCHARGE, key=skey, payment_id=payment.id,
                                      payload={
                    **base, "kind": "surcharge", "request_id": request_id_for(skey),
                    "total": _amount(payment.surcharge_minor, currency),
                    "method_type": payment.method_type or "card",
                    "reference_number": (payment.gateway_transaction_id
                                         or payment.reference)[:21],
                    "private_note": f"{payment_marker(payment.reference)} surcharge",
                }))
            return out
        refund = session.get(Refund, fact.refund_id)
        if refund is None:
            return []
        total = _amount(sum(a for _, a in fact.allocations), currency)
        if isinstance(fact, RefundRecorded):
            key = f"qbo:refund:{refund.reference}"
            taken = Money(sum(a for _, a in fact.allocations), currency).format()
            memo = (f"PayDesk refund {refund.reference}: {taken} on {fact.at.date().isoformat()}"
                    + (f", gateway refund {refund.gateway_refund_id}" if refund.gateway_refund_id
                       else ""))
            return [NewPosting(target=TARGET_REFUND, key=key, payment_id=payment.id,
                               refund_id=refund.id, payload={
                **base, "kind": "refund", "refund_reference": refund.reference,
                "total": total, "memo": memo, "marker": f"PayDesk refund {refund.reference}:",
                "direction": -1})]
        assert isinstance(fact, RefundReversed)
        key = f"qbo:refund-reversed:{refund.reference}"
        memo = (f"PayDesk refund {refund.reference} reversed (the gateway returned it): "
                f"{Money(sum(a for _, a in fact.allocations), currency).format()} on "
                f"{fact.at.date().isoformat()}")
        return [NewPosting(target=TARGET_REFUND_REVERSED, key=key, payment_id=payment.id,
                           refund_id=refund.id, payload={
            **base, "kind": "refund_reversed", "refund_reference": refund.reference,
            "total": total, "memo": memo, "marker": f"PayDesk refund {refund.reference} reversed",
            "direction": 1})]

    def open_deliverer(self, engine: Engine, credentials: CredentialStore
                       ) -> QuickBooksOnlineDeliverer | None:
        from app.core.quickbooks.online.setup import open_quickbooks_client

        client = open_quickbooks_client(engine, credentials)
        if client is None:
            return None
        return QuickBooksOnlineDeliverer(engine, client)

    def describe_missing(self, engine: Engine, credentials: CredentialStore) -> str | None:
        from app.core.quickbooks.online.setup import describe_missing_connection

        return describe_missing_connection(engine, credentials)


# --- the deliverer ----------------------------------------------------------------------------


class QuickBooksOnlineDeliverer:
    """Delivers ``quickbooks_online_*`` postings with one API client (shared by threads)."""

    def __init__(self, engine: Engine, client: QuickBooksOnlineClient,
                 checkpoint: Callable[[str], None] | None = None) -> None:
        self.engine = engine
        self.client = client
        self._lock = threading.Lock()
        #: Named steps for the crash tests (``quickbooks_online.before_create``,
        #: ``quickbooks_online.after_create``).
        self._checkpoint = checkpoint or (lambda _step: None)

    def close(self) -> None:
        self.client.close()

    # ---------------------------------------------------------------- lookups

    def _matched(self, lines: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], str]]:
        """(line, QuickBooks invoice id) for each line, or PostingWaiting naming the first
        invoice that is not matched."""
        out: list[tuple[Mapping[str, Any], str]] = []
        with session_scope(self.engine) as session:
            for line in lines:
                match = session.get(QuickBooksInvoiceMatch,
                                    (SOURCE_ONLINE, int(line["invoice_id"])))
                if match is None or not match.remote_id:
                    why = (match.reason if match is not None and match.reason
                           else "QuickBooks has not been read since it was created")
                    raise PostingWaiting(
                        f"Invoice {line['invoice_number']} is not matched to a QuickBooks "
                        f"invoice yet: {why} It goes once the invoice is matched.", WAIT)
                out.append((line, match.remote_id))
        return out

    def _customer_of(self, invoice_ids: Sequence[str]) -> str:
        customers: set[str] = set()
        with session_scope(self.engine) as session:
            for rid in invoice_ids:
                qb = session.get(QuickBooksInvoice, (SOURCE_ONLINE, rid))
                if qb is not None and qb.customer_id:
                    customers.add(qb.customer_id)
        missing = len(customers) == 0
        if missing:
            row = self.client.read("Invoice", invoice_ids[0])
            ref = row.get("CustomerRef") or {}
            customers.add(str(ref.get("value")))
        if len(customers) > 1:
            raise QuickBooksValidationError(
                "The invoices of this payment belong to different customers in QuickBooks, "
                "so one QuickBooks payment cannot pay them. Check the matches in Needs "
                "matching.", code="customers")
        return customers.pop()

    def _setting(self, key: str) -> str:
        connection = load_connection(self.engine)
        return connection.settings.get(key, "") if connection is not None else ""

    def _remember(self, key: str, value: str) -> None:
        connection = load_connection(self.engine)
        if connection is not None and connection.settings.get(key) != value:
            save_connection(self.engine, connection.with_settings(**{key: value}),
                            actor="PayDesk")

    def _payment_method(self, method_type: str) -> str:
        bank = is_bank_method(method_type)
        chosen = load_online_methods(self.engine).for_type(method_type)
        if chosen is not None:
            return self._chosen_method(chosen, "bank" if bank else "card")
        key = "bank_method_id" if bank else "card_method_id"
        with self._lock:
            known = self._setting(key)
            if known:
                return known
            name = BANK_METHOD_NAME if bank else CARD_METHOD_NAME
            rows = self.client.query(
                f"SELECT * FROM PaymentMethod WHERE Name = {quote_value(name)}"  # noqa: S608
            ).get("PaymentMethod") or []
            if rows:
                method_id = str(rows[0]["Id"])
            else:
                created = self.client.create("PaymentMethod", {
                    "Name": name, "Type": "NON_CREDIT_CARD" if bank else "CREDIT_CARD",
                }, request_id=request_id_for(f"qbo:payment-method:{name}"))
                method_id = str(created["Id"])
            self._remember(key, method_id)
            return method_id

    def _chosen_method(self, chosen: OnlineMethod, which: str) -> str:
        """The bookkeeper's method, checked: one deleted or made inactive in QuickBooks is
        never replaced by another without a person deciding."""
        try:
            row: Mapping[str, Any] | None = self.client.read("PaymentMethod", chosen.id)
        except QuickBooksNotFoundError:
            row = None
        if row is None or not row.get("Active", True):
            raise QuickBooksInvalidReferenceError(
                f"The payment method “{chosen.name}” that {which} payments are recorded with "
                "is no longer in QuickBooks Online (deleted or made inactive). Choose another "
                "in Settings › Posting, or make it active again in QuickBooks, then retry "
                "this posting.", code="payment-method")
        return chosen.id

    def _surcharge_item(self) -> str:
        with self._lock:
            known = self._setting("surcharge_item_id")
            if known:
                return known
            rows = self.client.query(
                f"SELECT * FROM Item WHERE Name = {quote_value(SURCHARGE_ITEM_NAME)}"  # noqa: S608
            ).get("Item") or []
            if rows:
                item_id = str(rows[0]["Id"])
            else:
                accounts = self.client.query(
                    "SELECT * FROM Account WHERE Name = "  # noqa: S608
                    f"{quote_value(SURCHARGE_ACCOUNT_NAME)}").get("Account") or []
                if accounts:
                    account_id = str(accounts[0]["Id"])
                else:
                    account = self.client.create("Account", {
                        "Name": SURCHARGE_ACCOUNT_NAME, "AccountType": "Income",
                        "AccountSubType": "OtherPrimaryIncome",
                    }, request_id=request_id_for("qbo:surcharge-account"))
                    account_id = str(account["Id"])
                item = self.client.create("Item", {
                    "Name": SURCHARGE_ITEM_NAME, "Type": "Service",
                    "IncomeAccountRef": {"value": account_id},
                    "Description": "Card surcharge collected by PayDesk",
                }, request_id=request_id_for("qbo:surcharge-item"))
                item_id = str(item["Id"])
            self._remember("surcharge_item_id", item_id)
            return item_id

    def _payment_remote_id(self, reference: str) -> str:
        with session_scope(self.engine) as session:
            remote = session.scalar(select(Posting.remote_id).where(
                Posting.key == f"qbo:payment:{reference}"))
        if not remote:
            raise PostingWaiting(
                f"The QuickBooks payment for {reference} has not been recorded yet; the "
                "refund follows it.", WAIT)
        return str(remote)

    # ---------------------------------------------------------------- find_existing

    def find_existing(self, posting: ClaimedPosting) -> str | None:
        payload = posting.payload
        kind = payload.get("kind")
        if kind in ("payment", "surcharge"):
            entity = "Payment" if kind == "payment" else "SalesReceipt"
            try:
                matched = self._matched(payload["lines"]) if kind == "payment" else []
            except PostingWaiting:
                return None  # nothing can have been created before the invoices matched
            customer = (self._customer_of([rid for _, rid in matched]) if matched
                        else None)
            where = [f"TxnDate = {quote_value(str(payload['txn_date']))}"]
            if customer:
                where.append(f"CustomerRef = {quote_value(customer)}")
            marker = str(payload["private_note"])
            for _start, page in self.client.query_all(entity, " AND ".join(where)):
                for row in page:
                    if str(row.get("PrivateNote") or "").startswith(marker):
                        return str(row["Id"])
            return None
        if kind in ("refund", "refund_reversed"):
            try:
                payment_id = self._payment_remote_id(str(payload["payment_reference"]))
            except PostingWaiting:
                return None
            row = self.client.read("Payment", payment_id)
            if str(payload["marker"]) in str(row.get("PrivateNote") or ""):
                return payment_id
            return None
        return None

    # ---------------------------------------------------------------- deliver

    def deliver(self, posting: ClaimedPosting) -> str:
        kind = posting.payload.get("kind")
        if kind == "payment":
            return self._deliver_payment(posting.payload)
        if kind == "surcharge":
            return self._deliver_surcharge(posting.payload)
        if kind in ("refund", "refund_reversed"):
            return self._deliver_refund(posting.payload)
        raise QuickBooksValidationError(f"PayDesk does not know how to post {kind!r}.")

    def _deliver_payment(self, payload: Mapping[str, Any]) -> str:
        matched = self._matched(payload["lines"])
        customer = self._customer_of([rid for _, rid in matched])
        body: dict[str, Any] = {
            "CustomerRef": {"value": customer},
            "TotalAmt": Decimal(str(payload["total"])),
            "TxnDate": payload["txn_date"],
            "PaymentRefNum": payload["reference_number"],
            "PrivateNote": payload["private_note"],
            "PaymentMethodRef": {"value": self._payment_method(str(payload["method_type"]))},
            "Line": [{"Amount": Decimal(str(line["amount"])),
                      "LinkedTxn": [{"TxnId": rid, "TxnType": "Invoice"}]}
                     for line, rid in matched],
        }
        deposit = self._setting("deposit_account_id")
        if deposit:
            body["DepositToAccountRef"] = {"value": deposit}
        self._checkpoint("quickbooks_online.before_create")
        created = self.client.create("Payment", body, request_id=str(payload["request_id"]))
        self._checkpoint("quickbooks_online.after_create")
        return str(created["Id"])

    def _deliver_surcharge(self, payload: Mapping[str, Any]) -> str:
        matched = self._matched(payload["lines"])
        customer = self._customer_of([rid for _, rid in matched])
        item = self._surcharge_item()
        amount = Decimal(str(payload["total"]))
        body: dict[str, Any] = {
            "CustomerRef": {"value": customer},
            "TxnDate": payload["txn_date"],
            "PaymentRefNum": payload["reference_number"],
            "PrivateNote": payload["private_note"],
            "PaymentMethodRef": {"value": self._payment_method(str(payload["method_type"]))},
            "Line": [{"Amount": amount, "DetailType": "SalesItemLineDetail",
                      "Description": f"Card surcharge on {payload['payment_reference']}",
                      "SalesItemLineDetail": {"ItemRef": {"value": item}, "Qty": 1,
                                              "UnitPrice": amount}}],
        }
        deposit = self._setting("deposit_account_id")
        if deposit:
            body["DepositToAccountRef"] = {"value": deposit}
        created = self.client.create("SalesReceipt", body, request_id=str(payload["request_id"]))
        return str(created["Id"])

    def _deliver_refund(self, payload: Mapping[str, Any]) -> str:
        payment_id = self._payment_remote_id(str(payload["payment_reference"]))
        matched = self._matched(payload["lines"])
        direction = int(payload["direction"])
        memo = str(payload["memo"])
        marker = str(payload["marker"])

        def restate(current: dict[str, Any]) -> dict[str, Any] | None:
            note = str(current.get("PrivateNote") or "")
            if marker in note:
                return None  # this refund is already in the payment
            change = {rid: Decimal(str(line["amount"])) * direction for line, rid in matched}
            lines: list[dict[str, Any]] = []
            seen: set[str] = set()
            for line in current.get("Line") or []:
                linked = [t for t in line.get("LinkedTxn") or []
                          if t.get("TxnType") == "Invoice"]
                rid = str(linked[0]["TxnId"]) if linked else ""
                amount = Decimal(str(line.get("Amount") or 0))
                if rid in change:
                    seen.add(rid)
                    amount += change[rid]
                if amount < 0:
                    raise QuickBooksValidationError(
                        "The QuickBooks payment no longer holds what PayDesk refunds (it was "
                        "changed in QuickBooks). Correct it in QuickBooks, then dismiss this "
                        "posting.", code="refund")
                if amount > 0:
                    lines.append({"Amount": amount,
                                  "LinkedTxn": [{"TxnId": rid, "TxnType": "Invoice"}]})
            for rid, amount in change.items():
                if rid not in seen and amount > 0:
                    lines.append({"Amount": amount,
                                  "LinkedTxn": [{"TxnId": rid, "TxnType": "Invoice"}]})
            total = Decimal(str(current.get("TotalAmt") or 0)) + sum(change.values())
            if total < 0:
                raise QuickBooksValidationError(
                    "The QuickBooks payment is smaller than the refund (it was changed in "
                    "QuickBooks). Correct it in QuickBooks, then dismiss this posting.",
                    code="refund")
            return {"Id": payment_id, "SyncToken": current.get("SyncToken"), "sparse": True,
                    "TotalAmt": total, "Line": lines,
                    "PrivateNote": (note + "\n" + memo).strip()[:4000]}

        for attempt in range(3):
            current = self.client.read("Payment", payment_id)
            body = restate(current)
            if body is None:
                return payment_id
            try:
                self.client.request("POST", "payment", body=body)
                return payment_id
            except QuickBooksStaleObjectError:
                if attempt == 2:
                    raise
        return payment_id

    # ---------------------------------------------------------------- classify

    def classify(self, error: Exception) -> PostingError:
        message = getattr(error, "message", "") or str(error) or type(error).__name__
        if isinstance(error, QuickBooksDisconnectedError | QuickBooksCurrencyError
                      | QuickBooksClosedPeriodError | QuickBooksDuplicateDocNumberError
                      | QuickBooksDuplicateNameError | QuickBooksInvalidReferenceError
                      | QuickBooksNotFoundError):
            return PostingError(PostingErrorKind.NEEDS_PERSON, message)
        if isinstance(error, QuickBooksThrottledError | QuickBooksServerError
                      | QuickBooksConnectionError | QuickBooksStaleObjectError):
            return PostingError(PostingErrorKind.RETRY, message)
        if isinstance(error, QuickBooksValidationError):
            return PostingError(PostingErrorKind.PERMANENT, message)
        if isinstance(error, QuickBooksError):
            return PostingError(PostingErrorKind.RETRY, message)
        return PostingError(
            PostingErrorKind.RETRY,
            f"PayDesk could not record this in QuickBooks Online ({type(error).__name__}). "
            "It tries again later.")


register_channel(QuickBooksOnlineChannel())
