"""QuickBooks Online pieces that need no server: the pasted address, exact money in JSON,
Fault bodies to plain messages, and what each error means for a posting."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from app.core.posting.channels import PostingErrorKind, get_channel
from app.core.quickbooks.online.channel import QuickBooksOnlineDeliverer, request_id_for
from app.core.quickbooks.online.client import dumps, quote_value
from app.core.quickbooks.online.errors import (
    QuickBooksAuthorizationError,
    QuickBooksClosedPeriodError,
    QuickBooksDisconnectedError,
    QuickBooksDuplicateDocNumberError,
    QuickBooksStaleObjectError,
    QuickBooksValidationError,
    fault_error,
)
from app.core.quickbooks.online.oauth import parse_redirect

STATE = "50123.abcDEF"


def test_pasted_address_gives_code_and_company() -> None:
    answer = parse_redirect(
        f"https://www.msp.example/relay.html?code=AB12&state={STATE}&realmId=9130", STATE)
    assert (answer.code, answer.realm_id) == ("AB12", "9130")
    assert parse_redirect(f"?code=X&state={STATE}&realmId=1", STATE).code == "X"


@pytest.mark.parametrize(("text", "words"), [
    ("http://localhost:1/callback?code=AB&state=other&realmId=1", "different sign-in attempt"),
    (f"http://localhost:1/callback?error=access_denied&state={STATE}", "not allowed"),
    (f"http://localhost:1/callback?state={STATE}", "no QuickBooks company"),
    ("", "Paste the whole address"),
])
def test_pasted_address_refused_with_a_plain_message(text: str, words: str) -> None:
    with pytest.raises(QuickBooksAuthorizationError) as caught:
        parse_redirect(text, STATE)
    assert words in caught.value.message


def test_amounts_go_out_exactly_as_json_numbers() -> None:
    text = dumps({"TotalAmt": Decimal("65.10"), "Line": [{"Amount": Decimal("0.30")}],
                  "Note": "a 'quoted' \"text\""})
    assert '"TotalAmt":65.10' in text and '"Amount":0.30' in text
    assert json.loads(text, parse_float=Decimal)["TotalAmt"] == Decimal("65.10")
    assert quote_value("O'Brien") == "'O\\'Brien'"


def test_faults_become_typed_errors_with_quickbooks_detail() -> None:
    def fault(code: str, detail: str = "d") -> dict[str, object]:
        return {"Fault": {"Error": [{"Message": "m", "Detail": detail, "code": code}],
                          "type": "ValidationFault"}}

    assert isinstance(fault_error(400, fault("5010")), QuickBooksStaleObjectError)
    assert isinstance(fault_error(400, fault("6140")), QuickBooksDuplicateDocNumberError)
    closed = fault_error(400, fault("6000", "The transaction date is before the closing date"))
    assert isinstance(closed, QuickBooksClosedPeriodError) and "closed books" in closed.message
    invalid = fault_error(400, fault("2020", "Required param missing: Line"))
    assert isinstance(invalid, QuickBooksValidationError)
    assert "Required param missing: Line" in invalid.message
    auth = fault_error(401, {"fault": {"error": [{"message": "x", "code": "3200"}]}})
    assert isinstance(auth, QuickBooksDisconnectedError)
    assert auth.message.startswith("QuickBooks disconnected — Reconnect in Setup")


def test_the_channel_is_registered_and_classifies_errors() -> None:
    channel = get_channel("quickbooks_online")
    assert channel is not None and channel.label == "QuickBooks Online"
    deliverer = QuickBooksOnlineDeliverer.__new__(QuickBooksOnlineDeliverer)
    assert deliverer.classify(QuickBooksDisconnectedError()).kind is PostingErrorKind.NEEDS_PERSON
    assert deliverer.classify(fault_error(400, {"Fault": {"Error": [{"code": "6210"}]}})
                              ).kind is PostingErrorKind.NEEDS_PERSON
    assert deliverer.classify(fault_error(503, None)).kind is PostingErrorKind.RETRY
    assert deliverer.classify(fault_error(400, {"Fault": {"Error": [{"code": "2020"}]}})
                              ).kind is PostingErrorKind.PERMANENT
    assert len(request_id_for("qbo:payment:" + "P" * 200)) <= 50


def test_the_bearer_token_never_follows_a_redirect_to_another_server() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from app.core.quickbooks.online.client import QuickBooksOnlineClient
    from app.core.quickbooks.online.errors import QuickBooksConnectionError

    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.headers.get("Host", ""), self.headers.get("Authorization", "")))
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.2:9/v3/company/1/query")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    class Token:
        def access_token(self) -> str:
            return "secret-token"

        def renew_after_rejection(self, rejected: str) -> str:
            raise AssertionError("no 401 here")

    try:
        client = QuickBooksOnlineClient(Token(), "1", f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(QuickBooksConnectionError) as caught:
            client.query("SELECT * FROM CompanyInfo")
        assert "does not follow" in caught.value.message
        assert len(seen) == 1  # asked once, redirect not followed with the token
        with pytest.raises(ValueError):
            QuickBooksOnlineClient(Token(), "1", "http://quickbooks.example.com")  # no TLS
    finally:
        server.shutdown()
        server.server_close()
