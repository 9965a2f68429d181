"""PayDesk killed while its charge is on the wire, restarted at once, charging again: the
first request lands after the second, and the duplicate window makes Authorize.Net refuse
it. One transaction."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from app.core.gateways import ChargeStatus
from app.core.money import Money
from app.sandbox.authorizenet import AuthorizeNetSandbox
from tests.integration.authorizenet.conftest import make_gateway
from tests.integration.authorizenet.support import charges_for, save_card

CHARGE = textwrap.dedent("""
    import sys
    from app.core.gateways.authorizenet import AuthorizeNetGateway
    from app.core.money import Money
    login, key, url, customer, token = sys.argv[1:6]
    gateway = AuthorizeNetGateway(login, key, api_base=url)
    print("sending", flush=True)
    gateway.charge(customer, token, Money(99_500, "USD"), idempotency_key="paydesk-pay-k",
                   reference="PD-KILL", description="Invoice 1045")
""")


def test_killed_mid_request_then_charged_again(sandbox: AuthorizeNetSandbox, tmp_path: Path,
                                               customer: str) -> None:
    token = save_card(sandbox, customer)
    sandbox.add_fault("slow", request="createTransactionRequest", seconds=2.0)
    process = subprocess.Popen(
        [sys.executable, "-c", CHARGE, sandbox.api_login_id, sandbox.transaction_key,
         sandbox.url, customer, token], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "sending"
        time.sleep(0.5)  # the request has reached the stand-in, which is still working
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    assert charges_for(sandbox, "PD-KILL") == []
    restarted = make_gateway(sandbox, tmp_path)
    result = restarted.charge(customer, token, Money(99_500, "USD"),
                              idempotency_key="paydesk-pay-k", reference="PD-KILL",
                              description="Invoice 1045")
    assert result.status is ChargeStatus.SUCCEEDED
    time.sleep(2.0)  # the first request finishes at the stand-in: refused as a duplicate
    assert sandbox.api_requests.count("createTransactionRequest") == 2
    [made] = charges_for(sandbox, "PD-KILL")
    assert made["transId"] == result.charge_id
    found = restarted.find_charge(reference="PD-KILL", idempotency_key="paydesk-pay-k",
                                  customer_id=customer)
    assert found is not None and found.charge_id == result.charge_id
