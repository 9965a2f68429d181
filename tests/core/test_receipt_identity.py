"""The receipts' company identity, shared by every seat through the database."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from app.core.config import set_setting
from app.core.receipt_identity import (
    MAX_LOGO_BYTES,
    RECEIPT_IDENTITY_KEY,
    ReceiptIdentity,
    load_receipt_identity,
    save_receipt_identity,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_round_trip_and_default(engine: Engine) -> None:
    assert load_receipt_identity(engine) == ReceiptIdentity()
    save_receipt_identity(
        engine, ReceiptIdentity("  Northwind IT ", "1 Main St\nSpringfield", PNG), actor="t"
    )
    assert load_receipt_identity(engine) == ReceiptIdentity(
        "Northwind IT", "1 Main St\nSpringfield", PNG
    )


def test_refuses_what_is_not_a_small_png(engine: Engine) -> None:
    with pytest.raises(ValueError, match="PNG"):
        save_receipt_identity(engine, ReceiptIdentity("A", "", b"GIF89a"))
    with pytest.raises(ValueError, match="at most"):
        save_receipt_identity(engine, ReceiptIdentity("A", "", PNG + b"\x00" * MAX_LOGO_BYTES))
    assert load_receipt_identity(engine) == ReceiptIdentity()


def test_a_damaged_stored_logo_is_left_out(engine: Engine) -> None:
    set_setting(engine, RECEIPT_IDENTITY_KEY, {"name": "A", "logo_png_base64": "not base64!"})
    assert load_receipt_identity(engine) == ReceiptIdentity("A", "", None)
