"""Payments over HTTP: balances, requestid replay, SyncToken rules, void, delete, refunds."""

# QuickBooks' query language is text: these tests build queries from values they chose.
# ruff: noqa: S608

from __future__ import annotations

from decimal import Decimal

from app.sandbox.quickbooks_online import QuickBooksOnlineSandbox
from tests.integration.quickbooks_online.conftest import Api, fault, open_invoice, payment_body


def test_a_payment_lowers_the_invoice_balance_and_links_both_ways(api: Api) -> None:
    invoice = open_invoice(api)
    customer = api.read("Customer", invoice["CustomerRef"]["value"])
    part = (invoice["Balance"] / 2).quantize(Decimal("0.01"))
    response = api.post("payment", payment_body(
        invoice, part, PaymentRefNum="pi_123", PrivateNote="PayDesk P-1"), requestid="p-1")
    assert response.status_code == 200, response.text
    payment = response.json(parse_float=Decimal)["Payment"]
    assert payment["TotalAmt"] == part
    assert payment["UnappliedAmt"] == Decimal("0.00")
    assert payment["DepositToAccountRef"]["value"] == "4"  # Undeposited Funds by default
    assert payment["PaymentRefNum"] == "pi_123"
    after = api.read("Invoice", invoice["Id"])
    assert after["Balance"] == invoice["Balance"] - part
    assert {"TxnId": payment["Id"], "TxnType": "Payment"} in after["LinkedTxn"]
    assert int(after["SyncToken"]) == int(invoice["SyncToken"]) + 1
    assert api.read("Customer", customer["Id"])["Balance"] == customer["Balance"] - part


def test_money_beyond_the_lines_is_unapplied(api: Api) -> None:
    invoice = open_invoice(api)
    response = api.post("payment", payment_body(invoice, "10.00", total="25.50"))
    payment = response.json(parse_float=Decimal)["Payment"]
    assert payment["UnappliedAmt"] == Decimal("15.50")


def test_requestid_replays_the_first_answer_and_writes_once(api: Api) -> None:
    invoice = open_invoice(api)
    first = api.post("payment", payment_body(invoice, "50.00"), requestid="posting-42")
    again = api.post("payment", payment_body(invoice, "50.00"), requestid="posting-42")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert api.sandbox.payment_counts()["created_through_api"] == 1
    assert api.read("Invoice", invoice["Id"])["Balance"] == invoice["Balance"] - Decimal("50")
    # Without a requestid a retry writes a second payment, as QuickBooks does.
    api.post("payment", payment_body(invoice, "1.00"))
    api.post("payment", payment_body(invoice, "1.00"))
    assert api.sandbox.payment_counts()["created_through_api"] == 3


def test_a_lost_response_is_recovered_by_the_same_requestid(api: Api) -> None:
    invoice = open_invoice(api)
    api.sandbox.add_fault("lose_response", path="/payment", method="POST")
    try:
        api.post("payment", payment_body(invoice, "20.00"), requestid="lost-1")
        raise AssertionError("the connection should have dropped")
    except Exception as exc:  # requests' ConnectionError
        assert "Connection" in type(exc).__name__
    assert api.sandbox.payment_counts()["created_through_api"] == 1  # it was written
    retry = api.post("payment", payment_body(invoice, "20.00"), requestid="lost-1")
    assert retry.status_code == 200
    assert api.sandbox.payment_counts()["created_through_api"] == 1


def test_over_applying_an_invoice_is_a_business_fault_and_writes_nothing(api: Api) -> None:
    invoice = open_invoice(api)
    too_much = invoice["Balance"] + Decimal("0.01")
    response = api.post("payment", payment_body(invoice, too_much), requestid="over")
    assert response.status_code == 400
    assert fault(response)["code"] == "6000"
    assert api.sandbox.payment_counts()["created_through_api"] == 0
    assert api.read("Invoice", invoice["Id"])["Balance"] == invoice["Balance"]
    # A failed request is not remembered: the same requestid can be used once corrected.
    fixed = api.post("payment", payment_body(invoice, invoice["Balance"]), requestid="over")
    assert fixed.status_code == 200
    assert api.read("Invoice", invoice["Id"])["Balance"] == Decimal("0.00")


def test_missing_and_invalid_references(api: Api) -> None:
    invoice = open_invoice(api)
    body = payment_body(invoice, "5.00")
    del body["CustomerRef"]
    assert fault(api.post("payment", body))["code"] == "2020"
    body = payment_body(invoice, "5.00")
    body["CustomerRef"] = {"value": "999999"}
    assert fault(api.post("payment", body))["code"] == "2500"
    body = payment_body(invoice, "5.00")
    body["Line"][0]["LinkedTxn"][0]["TxnId"] = "1"
    assert fault(api.post("payment", body))["code"] == "2500"
    body = payment_body(invoice, "5.00", PaymentMethodRef={"value": "777"})
    assert fault(api.post("payment", body))["code"] == "2500"
    other = api.query("SELECT * FROM Customer WHERE Id = '2'")["Customer"][0]
    body = payment_body(invoice, "5.00")
    body["CustomerRef"] = {"value": other["Id"]}
    if other["Id"] != invoice["CustomerRef"]["value"]:
        assert fault(api.post("payment", body))["code"] == "6000"


def test_sparse_update_void_and_delete_restore_balances(api: Api) -> None:
    invoice = open_invoice(api)
    created = api.post("payment", payment_body(invoice, "40.00")).json(
        parse_float=Decimal)["Payment"]
    # Sparse update: apply less; the difference goes back on the invoice.
    update = {"Id": created["Id"], "SyncToken": created["SyncToken"], "sparse": True,
              "TotalAmt": Decimal("30.00"),
              "Line": [{"Amount": Decimal("30.00"),
                        "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]}
    updated = api.post("payment", update).json(parse_float=Decimal)["Payment"]
    assert updated["TotalAmt"] == Decimal("30.00")
    assert updated["SyncToken"] == "1"
    assert updated["PaymentRefNum"] if "PaymentRefNum" in created else True
    assert api.read("Invoice", invoice["Id"])["Balance"] == invoice["Balance"] - 30
    # A stale SyncToken is refused with 5010 and changes nothing.
    stale = api.post("payment", {**update, "SyncToken": "0", "TotalAmt": Decimal("1.00")})
    assert stale.status_code == 400
    assert fault(stale)["code"] == "5010"
    # ?operation=void is for invoices; a payment is voided with include=void.
    wrong = api.post("payment", {"Id": created["Id"], "SyncToken": "1"}, operation="void")
    assert wrong.status_code == 400
    assert fault(wrong)["code"] == "500"
    voided = api.post("payment", {"Id": created["Id"], "SyncToken": "1", "sparse": True},
                      operation="update", include="void").json(parse_float=Decimal)["Payment"]
    assert voided["TotalAmt"] == Decimal("0.00")
    assert voided["Line"] == []
    assert voided["PrivateNote"].startswith("Voided")
    restored = api.read("Invoice", invoice["Id"])
    assert restored["Balance"] == invoice["Balance"]
    assert all(link["TxnId"] != created["Id"] for link in restored["LinkedTxn"])
    # Delete needs the current SyncToken too.
    assert fault(api.post("payment", {"Id": created["Id"], "SyncToken": "1"},
                          operation="delete"))["code"] == "5010"
    deleted = api.post("payment", {"Id": created["Id"], "SyncToken": "2"},
                       operation="delete")
    assert deleted.json()["Payment"] == {"domain": "QBO", "status": "Deleted",
                                         "Id": created["Id"]}
    assert fault(api.get(f"payment/{created['Id']}"))["code"] == "610"
    counts = api.sandbox.payment_counts()
    assert counts["created_through_api"] == 1
    assert counts["deleted"] == 1


def test_deleting_a_payment_reopens_the_invoice(api: Api) -> None:
    invoice = open_invoice(api)
    created = api.post("payment", payment_body(invoice, invoice["Balance"])).json()["Payment"]
    assert api.read("Invoice", invoice["Id"])["Balance"] == Decimal("0.00")
    api.post("payment", {"Id": created["Id"], "SyncToken": created["SyncToken"]},
             operation="delete")
    assert api.read("Invoice", invoice["Id"])["Balance"] == invoice["Balance"]


def test_refund_documents_are_created_once_by_requestid(api: Api) -> None:
    invoice = open_invoice(api)
    customer = invoice["CustomerRef"]["value"]
    refund = {"CustomerRef": {"value": customer},
              "DepositToAccountRef": {"value": "4"},
              "PaymentMethodRef": {"value": "3"},
              "Line": [{"Amount": Decimal("12.34"), "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]}
    first = api.post("refundreceipt", refund, requestid="refund-1")
    again = api.post("refundreceipt", refund, requestid="refund-1")
    assert first.status_code == 200, first.text
    assert first.content == again.content
    receipt = first.json(parse_float=Decimal)["RefundReceipt"]
    assert receipt["TotalAmt"] == Decimal("12.34")
    assert len(api.query("SELECT * FROM RefundReceipt")["RefundReceipt"]) == 1
    no_account = {k: v for k, v in refund.items() if k != "DepositToAccountRef"}
    assert fault(api.post("refundreceipt", no_account))["code"] == "2020"

    credit_body = {k: v for k, v in refund.items()
                   if k not in ("DepositToAccountRef", "PaymentMethodRef")}
    assert fault(api.post("creditmemo", refund))["code"] == "2010"  # no deposit on a credit
    memo = api.post("creditmemo", {**credit_body, "DocNumber": "CM-1"}, requestid="memo-1")
    assert memo.status_code == 200, memo.text
    credit = memo.json(parse_float=Decimal)["CreditMemo"]
    assert credit["RemainingCredit"] == Decimal("12.34")
    assert fault(api.post("creditmemo", {**credit_body, "DocNumber": "CM-1"}))["code"] == "6140"


def test_payment_methods_are_created_once_per_name(api: Api) -> None:
    names = {m["Name"] for m in api.query("SELECT * FROM PaymentMethod")["PaymentMethod"]}
    assert "Credit Card" not in names
    assert "ACH" not in names
    made = api.post("paymentmethod", {"Name": "Credit Card", "Type": "CREDIT_CARD"})
    assert made.status_code == 200
    duplicate = api.post("paymentmethod", {"Name": "credit card", "Type": "CREDIT_CARD"})
    assert fault(duplicate)["code"] == "6240"
    found = api.query("SELECT * FROM PaymentMethod WHERE Name = 'Credit Card'")
    assert found["PaymentMethod"][0]["Type"] == "CREDIT_CARD"


def test_a_closed_books_period_refuses_writes(qbo: QuickBooksOnlineSandbox, api: Api) -> None:
    invoice = open_invoice(api)
    qbo.store.set_book_close_date(__import__("datetime").date(2099, 1, 1))
    response = api.post("payment", payment_body(invoice, "5.00"))
    assert fault(response)["code"] == "6210"
    assert qbo.payment_counts()["created_through_api"] == 0


def test_a_foreign_currency_is_refused_without_multicurrency(api: Api) -> None:
    invoice = open_invoice(api)
    body = payment_body(invoice, "5.00", CurrencyRef={"value": "EUR"})
    assert fault(api.post("payment", body))["code"] == "6000"


def test_duplicate_document_numbers_and_names(api: Api) -> None:
    invoice = open_invoice(api)
    body = {"CustomerRef": {"value": invoice["CustomerRef"]["value"]},
            "DocNumber": invoice["DocNumber"],
            "Line": [{"Amount": Decimal("10.00"), "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]}
    duplicate = api.post("invoice", body)
    assert fault(duplicate)["code"] == "6140"
    assert invoice["DocNumber"] in fault(duplicate)["Detail"]
    made = api.post("invoice", {**body, "DocNumber": "NEW-1"})
    assert made.status_code == 200, made.text
    assert made.json()["Invoice"]["Balance"] == 10.0
    customer = api.read("Customer", invoice["CustomerRef"]["value"])
    taken = api.post("customer", {"DisplayName": customer["DisplayName"].upper()})
    assert fault(taken)["code"] == "6240"
    assert api.post("customer", {"DisplayName": "Brand New Client LLC"}).status_code == 200


def test_editing_and_voiding_an_invoice(api: Api) -> None:
    invoice = open_invoice(api)
    lines = [line for line in invoice["Line"] if line["DetailType"] != "SubTotalLineDetail"]
    extra = {"Amount": Decimal("10.00"), "DetailType": "SalesItemLineDetail",
             "SalesItemLineDetail": {"ItemRef": {"value": "31"}}}
    edited = api.post("invoice", {"Id": invoice["Id"], "SyncToken": invoice["SyncToken"],
                                  "sparse": True, "Line": [*lines, extra]})
    assert edited.status_code == 200, edited.text
    record = edited.json(parse_float=Decimal)["Invoice"]
    assert record["TotalAmt"] == invoice["TotalAmt"] + 10
    assert record["Balance"] == invoice["Balance"] + 10
    renumber = {"Id": invoice["Id"], "SyncToken": record["SyncToken"], "sparse": True,
                "DocNumber": "1001"}
    if invoice["DocNumber"] != "1001":
        assert fault(api.post("invoice", renumber))["code"] == "6140"
    paid = api.post("payment", payment_body(record, record["Balance"] - 1)).json(
        parse_float=Decimal)
    record = api.read("Invoice", invoice["Id"])
    too_small = [{"Amount": Decimal("1.00"), "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]
    shrink = {"Id": invoice["Id"], "SyncToken": record["SyncToken"], "sparse": True,
              "Line": too_small}
    assert fault(api.post("invoice", shrink))["code"] == "6000"
    void = {"Id": invoice["Id"], "SyncToken": record["SyncToken"]}
    assert fault(api.post("invoice", void, operation="void"))["code"] == "6000"
    payment = paid["Payment"]
    api.post("payment", {"Id": payment["Id"], "SyncToken": payment["SyncToken"]},
             operation="delete")
    record = api.read("Invoice", invoice["Id"])
    voided = api.post("invoice", {"Id": invoice["Id"], "SyncToken": record["SyncToken"]},
                      operation="void").json(parse_float=Decimal)["Invoice"]
    assert voided["TotalAmt"] == voided["Balance"] == Decimal("0.00")
    assert voided["PrivateNote"].startswith("Voided")


def test_renaming_a_customer_shows_in_references(api: Api) -> None:
    invoice = open_invoice(api)
    customer = api.read("Customer", invoice["CustomerRef"]["value"])
    other = api.read("Customer", "1" if customer["Id"] != "1" else "2")
    rename = {"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True,
              "DisplayName": other["DisplayName"]}
    assert fault(api.post("customer", rename))["code"] == "6240"
    renamed = api.post("customer", {**rename, "DisplayName": "Renamed Client Ltd"})
    assert renamed.status_code == 200, renamed.text
    assert api.read("Invoice", invoice["Id"])["CustomerRef"]["name"] == "Renamed Client Ltd"
    found = api.query("SELECT * FROM Customer WHERE DisplayName = 'Renamed Client Ltd'")
    assert found["Customer"][0]["Id"] == customer["Id"]
    assert fault(api.post("customer", {**rename, "DisplayName": "Again"}))["code"] == "5010"


def test_requestid_can_be_ignored_to_test_lookup_before_create(api: Api) -> None:
    api.sandbox.honour_requestid = False
    invoice = open_invoice(api)
    api.post("payment", payment_body(invoice, "5.00"), requestid="same")
    api.post("payment", payment_body(invoice, "5.00"), requestid="same")
    assert api.sandbox.payment_counts()["created_through_api"] == 2


def test_deposits_go_to_bank_or_undeposited_funds_only(api: Api) -> None:
    invoice = open_invoice(api)
    to_income = payment_body(invoice, "5.00", DepositToAccountRef={"value": "1"})
    assert fault(api.post("payment", to_income))["code"] == "6000"
    to_checking = payment_body(invoice, "5.00", DepositToAccountRef={"value": "35"})
    answer = api.post("payment", to_checking).json()["Payment"]
    assert answer["DepositToAccountRef"] == {"value": "35", "name": "Checking"}


def test_a_surcharge_as_a_sales_receipt(api: Api) -> None:
    invoice = open_invoice(api)
    body = {"CustomerRef": {"value": invoice["CustomerRef"]["value"]},
            "PaymentMethodRef": {"value": "3"}, "PaymentRefNum": "pi_9",
            "PrivateNote": "PayDesk P-9 surcharge",
            "Line": [{"Amount": Decimal("3.00"), "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "30"}, "Qty": 1,
                                              "UnitPrice": Decimal("3.00")}}]}
    first = api.post("salesreceipt", body, requestid="s-9")
    again = api.post("salesreceipt", body, requestid="s-9")
    assert first.status_code == 200, first.text
    assert first.content == again.content
    receipt = first.json(parse_float=Decimal)["SalesReceipt"]
    assert receipt["TotalAmt"] == Decimal("3.00")
    assert receipt["DepositToAccountRef"]["value"] == "4"
    assert receipt["Line"][0]["SalesItemLineDetail"]["ItemRef"]["name"] == "Card surcharge"
    # The invoice is untouched: a surcharge is income, not a payment on it.
    assert api.read("Invoice", invoice["Id"])["Balance"] == invoice["Balance"]
    found = api.query(f"SELECT * FROM SalesReceipt WHERE TxnDate = '{receipt['TxnDate']}'")
    assert [r["Id"] for r in found["SalesReceipt"]] == [receipt["Id"]]
    voided = api.post("salesreceipt", {"Id": receipt["Id"], "SyncToken": "0",
                                       "sparse": True}, operation="update", include="void")
    assert voided.json(parse_float=Decimal)["SalesReceipt"]["TotalAmt"] == Decimal("0.00")


def test_an_unknown_property_is_refused(api: Api) -> None:
    invoice = open_invoice(api)
    body = payment_body(invoice, "5.00", TotalAmount=Decimal("5.00"))
    refused = api.post("payment", body, requestid="typo")
    assert fault(refused)["code"] == "2010"
    assert fault(refused)["element"] == "TotalAmount"
    assert api.sandbox.payment_counts()["created_through_api"] == 0


def test_text_limits_and_line_arithmetic(api: Api) -> None:
    invoice = open_invoice(api)
    long_ref = payment_body(invoice, "5.00", PaymentRefNum="x" * 22)
    refused = api.post("payment", long_ref)
    assert fault(refused)["code"] == "2050"
    assert fault(refused)["element"] == "PaymentRefNum"
    assert api.post("payment", payment_body(invoice, "5.00",
                                            PaymentRefNum="x" * 21)).status_code == 200
    receipt = {"CustomerRef": {"value": invoice["CustomerRef"]["value"]},
               "Line": [{"Amount": Decimal("3.00"), "DetailType": "SalesItemLineDetail",
                         "SalesItemLineDetail": {"ItemRef": {"value": "30"}, "Qty": 2,
                                                 "UnitPrice": Decimal("3.00")}}]}
    assert fault(api.post("salesreceipt", receipt))["code"] == "6070"
