"""qbXML requests and answers: versions, escaping, element order, amounts, status codes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from lxml import etree

from app.core.quickbooks.desktop import qbxml
from app.core.quickbooks.desktop.qbxml import (
    PaymentApplication,
    QbxmlClosedPeriodError,
    QbxmlEditSequenceError,
    QbxmlNameNotUniqueError,
    QbxmlNotFoundError,
    QbxmlVersionError,
    RequestMessage,
)


def _parse(text: str) -> etree._Element:
    return etree.fromstring(text.encode())


def test_the_version_is_the_newest_both_sides_speak() -> None:
    assert qbxml.negotiate_version(["1.0", "2.0", "8.0", "13.0", "CA3.0", "UK3.0"]) == "13.0"
    assert qbxml.negotiate_version(["8.0", "9.0", "11.0"]) == "11.0"
    assert qbxml.negotiate_version(["16.0", "17.0"]) == "16.0"
    with pytest.raises(QbxmlVersionError, match=r"too old for PayDesk.*1\.0, 2\.0"):
        qbxml.negotiate_version(["1.0", "2.0"])


def test_a_message_carries_its_version_and_escapes_what_people_typed() -> None:
    add = qbxml.receive_payment_add(
        "7", customer_list_id="80000001-1", txn_date=date(2026, 6, 1), ref_number="PD-7K3M9Q2X",
        total=Decimal("150.5"), memo='Smith & <Sons> "quoted"',
        applied=[PaymentApplication("1A-1", Decimal("100")),
                 PaymentApplication("1B-2", Decimal("50.50"))])
    text = RequestMessage("13.0", (add,)).to_xml()
    assert '<?qbxml version="13.0"?>' in text
    assert "Smith &amp; &lt;Sons&gt;" in text
    root = _parse(text.split("\n", 2)[2])
    rq = root.find("QBXMLMsgsRq/ReceivePaymentAddRq")
    assert rq is not None and rq.get("requestID") == "7"
    payment = rq.find("ReceivePaymentAdd")
    assert payment is not None
    # QuickBooks checks the schema's order.
    assert [c.tag for c in payment] == ["CustomerRef", "TxnDate", "RefNumber", "TotalAmount",
                                        "Memo", "AppliedToTxnAdd", "AppliedToTxnAdd"]
    assert payment.findtext("TotalAmount") == "150.50"
    assert payment.findtext("Memo") == 'Smith & <Sons> "quoted"'
    assert [a.findtext("PaymentAmount") for a in payment.findall("AppliedToTxnAdd")] == [
        "100.00", "50.50"]


def test_amounts_are_decimals_never_floats() -> None:
    with pytest.raises(TypeError):
        qbxml.amount_text(1.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="20 characters"):
        qbxml.receive_payment_add("1", customer_list_id="x", txn_date=date(2026, 1, 1),
                                  ref_number="X" * 21, total=Decimal(1), memo="",
                                  applied=[PaymentApplication("t", Decimal(1))])


def test_iterator_queries_start_and_continue() -> None:
    start = qbxml.invoice_query("1", max_returned=500,
                                from_modified=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert start.get("iterator") == "Start" and start.get("iteratorID") is None
    assert start.findtext("MaxReturned") == "500"
    assert start.findtext("ModifiedDateRangeFilter/FromModifiedDate") == (
        "2026-01-02T03:04:05+00:00")
    more = qbxml.customer_query("2", iterator="Continue", iterator_id="{abc}")
    assert (more.get("iterator"), more.get("iteratorID")) == ("Continue", "{abc}")
    with pytest.raises(ValueError):
        qbxml.customer_query("3", iterator="Continue")


ANSWER = """<?xml version="1.0" ?>
<QBXML><QBXMLMsgsRs>
<InvoiceQueryRs requestID="1" statusCode="0" statusSeverity="Info" statusMessage="Status OK"
 iteratorRemainingCount="12" iteratorID="{it-1}">
<InvoiceRet><TxnID>1F-155</TxnID><TimeModified>2026-05-04T10:11:12-05:00</TimeModified>
<EditSequence>1714835472</EditSequence><CustomerRef><ListID>80000001-1</ListID>
<FullName>Smith &amp; Sons</FullName></CustomerRef><TxnDate>2026-05-01</TxnDate>
<RefNumber>1045</RefNumber><DueDate>2026-05-31</DueDate><Subtotal>100.00</Subtotal>
<SalesTaxTotal>8.25</SalesTaxTotal><BalanceRemaining>58.25</BalanceRemaining>
<IsPaid>false</IsPaid></InvoiceRet>
</InvoiceQueryRs></QBXMLMsgsRs></QBXML>"""


def test_invoices_are_read_with_their_iterator_and_exact_amounts() -> None:
    (rs,) = qbxml.parse_response(ANSWER)
    assert (rs.iterator_id, rs.remaining) == ("{it-1}", 12)
    (row,) = qbxml.parse_invoices(rs)
    assert row.total == Decimal("108.25") and row.balance_remaining == Decimal("58.25")
    assert row.customer_name == "Smith & Sons" and row.ref_number == "1045"
    assert row.time_modified is not None and row.time_modified.utcoffset() is not None


@pytest.mark.parametrize(("code", "message", "error", "words"), [
    (500, "There was a required element that could not be found", QbxmlNotFoundError,
     "could not find"),
    (3100, "The name is already in use", QbxmlNameNotUniqueError, "already used"),
    (3200, "The provided edit sequence is out-of-date", QbxmlEditSequenceError,
     "retry by itself"),
    (3170, "The transaction date is on or before the closing date", QbxmlClosedPeriodError,
     "closed period"),
])
def test_status_codes_become_plain_messages(code: int, message: str,
                                            error: type[Exception], words: str) -> None:
    text = (f'<QBXML><QBXMLMsgsRs><ReceivePaymentAddRs requestID="1" statusCode="{code}" '
            f'statusSeverity="Error" statusMessage="{message}"/></QBXMLMsgsRs></QBXML>')
    (rs,) = qbxml.parse_response(text)
    with pytest.raises(error, match=words) as caught:
        rs.raise_for_status(request="payment PD-1")
    assert "payment PD-1" in str(caught.value)


def test_no_match_is_an_empty_answer_not_an_error() -> None:
    (rs,) = qbxml.parse_response(
        '<QBXML><QBXMLMsgsRs><ReceivePaymentQueryRs requestID="1" statusCode="1" '
        'statusSeverity="Info" statusMessage="A query request did not find a matching '
        'object"/></QBXMLMsgsRs></QBXML>')
    assert rs.no_match and qbxml.parse_receive_payments(rs) == []


def test_an_answer_with_an_entity_is_not_expanded() -> None:
    evil = ('<?xml version="1.0"?><!DOCTYPE QBXML [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            '<QBXML><QBXMLMsgsRs><CompanyQueryRs requestID="1" statusCode="0" '
            'statusSeverity="Info" statusMessage="OK"><CompanyRet><CompanyName>&x;'
            '</CompanyName></CompanyRet></CompanyQueryRs></QBXMLMsgsRs></QBXML>')
    (rs,) = qbxml.parse_response(evil)
    info = qbxml.parse_company(rs, None, "US")
    assert "root:" not in info.company_name


def test_the_home_currency_comes_from_the_preferences_or_the_edition() -> None:
    assert qbxml.currency_code_for("US Dollar") == "USD"
    assert qbxml.currency_code_for("Canadian Dollar") == "CAD"
    assert qbxml.currency_code_for(None, "UK") == "GBP"
    assert qbxml.currency_code_for(None, None) is None
