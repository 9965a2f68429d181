"""`paydesk sandbox quickbooks-online` as a user runs it: a separate process, used over HTTP."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[3]


def test_cli_prints_how_to_connect_and_serves() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "sandbox", "quickbooks-online", "--port", "0",
         "--seed", "5", "--invoices", "200", "--companies", "20", "--currency", "CAD"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        info: dict[str, str] = {}
        for _ in range(6):
            name, _, value = process.stdout.readline().rstrip("\n").partition(": ")
            info[name] = value
        assert {"url", "client id", "client secret", "realm id"} <= set(info), info
        discovery = requests.get(info["discovery"], timeout=10).json()
        token = requests.post(discovery["token_endpoint"], timeout=10,
                              auth=(info["client id"], info["client secret"]),
                              data={"grant_type": "refresh_token", "refresh_token": "x"})
        assert token.status_code == 400
        assert token.json()["error"] == "invalid_grant"
        state = requests.get(info["admin"] + "state", timeout=10,
                             headers={"Authorization": f"Bearer {info['client secret']}"})
        assert state.json()["currency"] == "CAD"
        assert state.json()["realm_id"] == info["realm id"]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
