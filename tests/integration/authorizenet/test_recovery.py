"""Never twice without idempotency keys: whatever happens to the answer of a charge —
dropped after the charge was made, dropped before, a timeout, a 5xx, a crash of PayDesk, a
transaction list that lags — the stand-in ends with exactly one transaction per payment,
and PayDesk learns its outcome."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.core.gateways import ChargeStatus
from app.core.gateways.authorizenet import AuthorizeNetGateway
from app.core.gateways.errors import GatewayError, GatewayUnavailable, NetworkUnknownOutcome
from app.core.money import Money
from app.sandbox.authorizenet import AuthorizeNetSandbox
from tests.integration.authorizenet.conftest import make_gateway
from tests.integration.authorizenet.support import charges_for, raw_call, save_card

AMOUNT = Money(99_500, "USD")


def _pay(gateway: AuthorizeNetGateway, customer: str, token: str, reference: str = "PD-ONCE",
         key: str = "paydesk-pay-1") -> object:
    return gateway.charge(customer, token, AMOUNT, idempotency_key=key, reference=reference,
                          description="Invoice 1045")


@pytest.mark.parametrize("fault", ["drop_after_commit", "error_after_commit"])
def test_answer_lost_after_the_charge(fault: str, sandbox: AuthorizeNetSandbox,
                                      gateway: AuthorizeNetGateway, customer: str) -> None:
    token = save_card(sandbox, customer)
    sandbox.add_fault(fault, request="createTransactionRequest")
    with pytest.raises(GatewayError) as lost:
        _pay(gateway, customer, token)
    assert lost.value.outcome_unknown
    assert len(charges_for(sandbox, "PD-ONCE")) == 1
    found = gateway.find_charge(reference="PD-ONCE", idempotency_key="paydesk-pay-1",
                                customer_id=customer)
    assert found is not None and found.status is ChargeStatus.SUCCEEDED
    # Charging again with the same reference and key replays; nothing new is sent.
    again = _pay(gateway, customer, token)
    assert again == found
    assert len(charges_for(sandbox, "PD-ONCE")) == 1


def test_crash_after_sending_then_a_new_process_charges_again(
        sandbox: AuthorizeNetSandbox, tmp_path: Path, customer: str) -> None:
    token = save_card(sandbox, customer)
    sandbox.add_fault("drop_after_commit", request="createTransactionRequest")
    with pytest.raises(NetworkUnknownOutcome):
        _pay(make_gateway(sandbox, tmp_path), customer, token)
    # A fresh adapter knows nothing of the first attempt, like PayDesk after a restart.
    restarted = make_gateway(sandbox, tmp_path)
    result = _pay(restarted, customer, token)
    assert getattr(result, "status") is ChargeStatus.SUCCEEDED  # noqa: B009
    assert len(charges_for(sandbox, "PD-ONCE")) == 1


def test_answer_lost_before_anything_happened(sandbox: AuthorizeNetSandbox,
                                              gateway: AuthorizeNetGateway,
                                              customer: str) -> None:
    token = save_card(sandbox, customer)
    sandbox.add_fault("drop_before", request="createTransactionRequest")
    sent_at = datetime.now(UTC)
    with pytest.raises(NetworkUnknownOutcome, match=r"will check with Authorize\.Net"):
        _pay(gateway, customer, token)
    found = gateway.find_charge(reference="PD-ONCE", customer_id=customer,
                                created_after=sent_at)
    assert found is None
    assert not gateway.charge_absent(sent_at, found)  # too early to be proof
    # A repeat inside the grace period sends nothing.
    with pytest.raises(GatewayUnavailable, match="Nothing new was sent") as waiting:
        _pay(gateway, customer, token)
    assert waiting.value.outcome_unknown
    assert sandbox.transactions() == []
    time.sleep(gateway.lookup_grace.total_seconds())
    assert gateway.charge_absent(sent_at, gateway.find_charge(
        reference="PD-ONCE", customer_id=customer, created_after=sent_at))
    result = _pay(gateway, customer, token)
    assert getattr(result, "status") is ChargeStatus.SUCCEEDED  # noqa: B009
    assert len(charges_for(sandbox, "PD-ONCE")) == 1


def test_timeout_while_the_gateway_is_still_working(sandbox: AuthorizeNetSandbox,
                                                    tmp_path: Path, customer: str) -> None:
    token = save_card(sandbox, customer)
    impatient = make_gateway(sandbox, tmp_path, timeout=(2.0, 0.5),
                             lookup_grace=timedelta(seconds=3))
    sandbox.add_fault("slow", request="createTransactionRequest", seconds=1.5)
    with pytest.raises(NetworkUnknownOutcome):
        _pay(impatient, customer, token)
    # The first request is still running: a repeat now is held back, not sent.
    with pytest.raises(GatewayUnavailable):
        _pay(impatient, customer, token)
    time.sleep(1.5)
    result = _pay(impatient, customer, token)
    assert getattr(result, "status") is ChargeStatus.SUCCEEDED  # noqa: B009
    assert len(charges_for(sandbox, "PD-ONCE")) == 1


def test_server_error_before_processing_leaves_nothing(sandbox: AuthorizeNetSandbox,
                                                      gateway: AuthorizeNetGateway,
                                                      customer: str) -> None:
    token = save_card(sandbox, customer)
    sandbox.add_fault("server_error", request="createTransactionRequest", status=503)
    with pytest.raises(GatewayUnavailable, match="check whether it went through") as failed:
        _pay(gateway, customer, token)
    assert failed.value.outcome_unknown
    assert gateway.find_charge(reference="PD-ONCE", customer_id=customer) is None
    assert sandbox.transactions() == []


def test_lagging_lists_and_a_blind_repeat_meet_the_duplicate_window(
        sandbox: AuthorizeNetSandbox, tmp_path: Path, customer: str) -> None:
    """The transaction lists trail the payment by a few seconds and PayDesk restarted: the
    look-before-sending misses the first charge, so the repeat is sent — and Authorize.Net
    refuses it as a duplicate. Still one transaction; the outcome comes once listed."""
    token = save_card(sandbox, customer)
    sandbox.set_list_lag(2.0)
    sandbox.add_fault("drop_after_commit", request="createTransactionRequest")
    with pytest.raises(NetworkUnknownOutcome):
        _pay(make_gateway(sandbox, tmp_path), customer, token)
    restarted = make_gateway(sandbox, tmp_path)
    with pytest.raises(GatewayUnavailable, match="already sent a moment ago") as refused:
        _pay(restarted, customer, token)
    assert refused.value.outcome_unknown
    assert len(charges_for(sandbox, "PD-ONCE")) == 1
    time.sleep(2.1)
    found = restarted.find_charge(reference="PD-ONCE", idempotency_key="paydesk-pay-1",
                                  customer_id=customer)
    assert found is not None and found.status is ChargeStatus.SUCCEEDED
    assert len(charges_for(sandbox, "PD-ONCE")) == 1


def test_find_charge_reaches_settled_batches(sandbox: AuthorizeNetSandbox,
                                             gateway: AuthorizeNetGateway,
                                             customer: str) -> None:
    token = save_card(sandbox, customer)
    first = _pay(gateway, customer, token)
    sandbox.settle()
    # Without the customer: unsettled list (empty now), then the settled batches.
    found = gateway.find_charge(reference="PD-ONCE", idempotency_key="paydesk-pay-1")
    assert found is not None
    assert found.charge_id == getattr(first, "charge_id")  # noqa: B009
    assert found.status is ChargeStatus.SUCCEEDED
    assert gateway.find_charge(reference="PD-OTHER") is None
    # A different key under the same reference is a different attempt: not this charge.
    assert gateway.find_charge(reference="PD-ONCE", idempotency_key="another") is None


def test_duplicate_window_refuses_a_blind_repeat(sandbox: AuthorizeNetSandbox,
                                                 customer: str) -> None:
    token = save_card(sandbox, customer)
    payment_profile = token.partition("/")[2]

    def send(window: int, invoice: str) -> dict[str, object]:
        return raw_call(sandbox, "createTransactionRequest", {"refId": invoice,
                        "transactionRequest": {
                            "transactionType": "authCaptureTransaction", "amount": "10.00",
                            "profile": {"customerProfileId": customer,
                                        "paymentProfile": {"paymentProfileId": payment_profile}},
                            "order": {"invoiceNumber": invoice},
                            "transactionSettings": {"setting": [
                                {"settingName": "duplicateWindow",
                                 "settingValue": str(window)}]}}})

    assert send(28_800, "PD-DUP")["messages"]["resultCode"] == "Ok"  # type: ignore[index]
    repeat = send(28_800, "PD-DUP")
    response = repeat["transactionResponse"]
    assert response["responseCode"] == "3"  # type: ignore[index]
    assert response["errors"][0]["errorCode"] == "11"  # type: ignore[index]
    assert len(charges_for(sandbox, "PD-DUP")) == 1
    # With the window at 0 the gateway no longer protects: why PayDesk always sets it.
    assert send(0, "PD-DUP")["messages"]["resultCode"] == "Ok"  # type: ignore[index]
    assert len(charges_for(sandbox, "PD-DUP")) == 2


def test_every_charge_sets_the_duplicate_window_and_reference(
        sandbox: AuthorizeNetSandbox, gateway: AuthorizeNetGateway, customer: str) -> None:
    token = save_card(sandbox, customer)
    _pay(gateway, customer, token, reference="PD-WIN")
    # The same charge sent again by hand (not through PayDesk) is refused as a duplicate,
    # because PayDesk's request set the 8-hour window.
    repeat = raw_call(sandbox, "createTransactionRequest", {"transactionRequest": {
        "transactionType": "authCaptureTransaction", "amount": "995.00",
        "profile": {"customerProfileId": customer,
                    "paymentProfile": {"paymentProfileId": token.partition("/")[2]}},
        "order": {"invoiceNumber": "PD-WIN"},
        "transactionSettings": {"setting": [{"settingName": "duplicateWindow",
                                             "settingValue": "28800"}]}}})
    assert repeat["transactionResponse"]["errors"][0]["errorCode"] == "11"
    [made] = charges_for(sandbox, "PD-WIN")
    assert made["refId"] == "PD-WIN"


def test_unreachable_gateway_sent_nothing(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = AuthorizeNetGateway("login1", "0123456789abcdef",
                                  api_base=f"http://127.0.0.1:{port}", timeout=(1.0, 1.0))
    with pytest.raises(GatewayUnavailable, match="could not be reached, so nothing was sent"
                       ) as failed:
        gateway.charge("1", "1/2", AMOUNT, idempotency_key="k", reference="PD-NET",
                       description="x")
    assert not failed.value.outcome_unknown


def test_a_declined_charge_is_listed_unsettled_then_in_the_batch(
        sandbox: AuthorizeNetSandbox, gateway: AuthorizeNetGateway, customer: str) -> None:
    """As at Authorize.Net, a declined transaction is in the unsettled list until the day's
    batch, then in that batch (still declined): a lookup without the customer finds the
    decline, which proves the card was not charged."""
    token = save_card(sandbox, customer, zip_code="46282")  # declines
    declined = gateway.charge(customer, token, AMOUNT, idempotency_key="paydesk-pay-d",
                              reference="PD-DECL", description="Invoice 1046")
    assert declined.status is ChargeStatus.DECLINED
    unsettled = raw_call(sandbox, "getUnsettledTransactionListRequest", {})
    assert [t["transactionStatus"] for t in unsettled["transactions"]] == ["declined"]
    found = gateway.find_charge(reference="PD-DECL", idempotency_key="paydesk-pay-d")
    assert found is not None and found.status is ChargeStatus.DECLINED
    approved = _pay(gateway, customer, save_card(sandbox, customer, "5424000000000015"))
    assert getattr(approved, "status") is ChargeStatus.SUCCEEDED  # noqa: B009

    batch = sandbox.settle()

    assert batch is not None and len(batch["transactions"]) == 2
    assert raw_call(sandbox, "getUnsettledTransactionListRequest", {}).get(
        "transactions", []) == []
    found = gateway.find_charge(reference="PD-DECL", idempotency_key="paydesk-pay-d")
    assert found is not None and found.status is ChargeStatus.DECLINED
    assert [t["status"] for t in sandbox.transactions()] == ["declined", "settledSuccessfully"]


def test_the_same_charge_from_two_threads_is_sent_once(sandbox: AuthorizeNetSandbox,
                                                       gateway: AuthorizeNetGateway,
                                                       customer: str) -> None:
    """A double click: the second call does not lean on the duplicate window; it is not sent
    while the first is on the wire, and a lookup meanwhile says "still running", not "none"."""
    import threading

    from app.core.gateways.errors import RequestInProgress

    token = save_card(sandbox, customer)
    sandbox.add_fault("slow", request="createTransactionRequest", seconds=1.0)
    first: list[object] = []
    sender = threading.Thread(target=lambda: first.append(_pay(gateway, customer, token)))
    sender.start()
    try:
        deadline = time.monotonic() + 5
        while "createTransactionRequest" not in sandbox.api_requests:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with pytest.raises(RequestInProgress):
            _pay(gateway, customer, token)
        with pytest.raises(RequestInProgress):
            gateway.find_charge(reference="PD-ONCE", idempotency_key="paydesk-pay-1",
                                customer_id=customer)
    finally:
        sender.join(10)
    assert getattr(first[0], "status") is ChargeStatus.SUCCEEDED  # noqa: B009
    assert sandbox.api_requests.count("createTransactionRequest") == 1
    assert len(charges_for(sandbox, "PD-ONCE")) == 1
    found = gateway.find_charge(reference="PD-ONCE", idempotency_key="paydesk-pay-1",
                                customer_id=customer)
    assert found is not None and found.status is ChargeStatus.SUCCEEDED
