"""``paydesk sandbox gateway`` prints its URL and key and serves the Stripe API."""

from __future__ import annotations

import subprocess
import sys

from app.core.gateways import GatewayMode
from app.core.gateways.stripe_gateway import StripeGateway


def test_command_prints_url_and_key_and_serves() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "gateway", "--port", "0",
         "--account-name", "Contoso Managed IT"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        url_line = process.stdout.readline().strip()
        key_line = process.stdout.readline().strip()
        assert url_line.startswith("url: http://127.0.0.1:"), url_line
        assert key_line.startswith("secret key: sk_test_"), key_line
        url = url_line.removeprefix("url: ")
        key = key_line.removeprefix("secret key: ")
        info = StripeGateway(key, api_base=url, max_network_retries=0).test_connection()
        assert info.display_name == "Contoso Managed IT"
        assert info.mode is GatewayMode.TEST
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()
