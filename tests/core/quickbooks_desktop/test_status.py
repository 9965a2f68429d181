"""The Web Connector status line the setup page shows."""

from __future__ import annotations

from datetime import UTC, datetime

from app.core.quickbooks.desktop.service import ServiceStatus


def test_the_status_line_says_what_a_bookkeeper_needs() -> None:
    at = datetime(2026, 6, 1, 14, 30, tzinfo=UTC)
    assert ServiceStatus().describe() == "The Web Connector service is not running."
    assert ServiceStatus(state="waiting").describe() == "Waiting for the Web Connector."
    connected = ServiceStatus(state="connected", company_file=r"C:\Books\northwind.qbw",
                              last_exchange_at=at)
    line = connected.describe()
    assert line.startswith(r"Connected to company file C:\Books\northwind.qbw.")
    assert "Last exchange at 2026-06-01" in line
    failed = ServiceStatus(state="error", message="QuickBooks is busy.")
    assert failed.describe() == "QuickBooks is busy."


def test_the_status_survives_the_settings_round_trip() -> None:
    status = ServiceStatus(state="connected", url="http://localhost:8765/qbwc",
                           company_name="Northwind", last_exchange_at=datetime.now(UTC))
    assert ServiceStatus.from_json(status.to_json()) == status
    assert ServiceStatus.from_json(None) == ServiceStatus()
