"""Who the receipts come from: the company's name, address and logo, shared by every seat.

Receipts (printed, saved as PDF or e-mailed) head themselves with this. It lives in the shared
settings so every seat prints the same receipt; a change is audited like any setting.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from sqlalchemy import Engine

from app.core.config import get_setting, set_setting

__all__ = [
    "MAX_LOGO_BYTES",
    "RECEIPT_IDENTITY_KEY",
    "ReceiptIdentity",
    "load_receipt_identity",
    "save_receipt_identity",
]

RECEIPT_IDENTITY_KEY = "receipts.company"
#: A logo is stored in the database (every seat needs it); keep it small.
MAX_LOGO_BYTES = 512 * 1024
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, slots=True)
class ReceiptIdentity:
    name: str = ""
    address: str = ""
    logo_png: bytes | None = None


def load_receipt_identity(engine: Engine) -> ReceiptIdentity:
    """The stored identity; empty fields when never set or unreadable."""
    raw = get_setting(engine, RECEIPT_IDENTITY_KEY)
    if not isinstance(raw, dict):
        return ReceiptIdentity()
    logo: bytes | None = None
    encoded = raw.get("logo_png_base64")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        logo = decoded if decoded.startswith(_PNG_SIGNATURE) else None
    return ReceiptIdentity(
        name=str(raw.get("name") or ""), address=str(raw.get("address") or ""), logo_png=logo
    )


def save_receipt_identity(
    engine: Engine, identity: ReceiptIdentity, actor: str | None = None
) -> None:
    """Store the identity for every seat. Refuses a logo that is not a PNG or is too large."""
    if identity.logo_png is not None:
        if not identity.logo_png.startswith(_PNG_SIGNATURE):
            raise ValueError("The logo must be a PNG picture.")
        if len(identity.logo_png) > MAX_LOGO_BYTES:
            raise ValueError(
                f"The logo is {len(identity.logo_png) // 1024} KB; use a picture of at most "
                f"{MAX_LOGO_BYTES // 1024} KB."
            )
    set_setting(
        engine,
        RECEIPT_IDENTITY_KEY,
        {
            "name": identity.name.strip(),
            "address": identity.address.strip(),
            "logo_png_base64": (
                base64.b64encode(identity.logo_png).decode("ascii")
                if identity.logo_png is not None
                else None
            ),
        },
        actor=actor,
    )
