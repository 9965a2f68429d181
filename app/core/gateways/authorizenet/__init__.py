"""Authorize.Net as a PayDesk payment gateway: the adapter (:mod:`.gateway`), its JSON
client (:mod:`.client`) and the provider entry (:mod:`.provider`)."""

from __future__ import annotations

from app.core.gateways.authorizenet.client import PRODUCTION_API_BASE, SANDBOX_API_BASE
from app.core.gateways.authorizenet.gateway import (
    DUPLICATE_WINDOW_SECONDS,
    LOOKUP_GRACE,
    AuthorizeNetGateway,
)

__all__ = [
    "DUPLICATE_WINDOW_SECONDS",
    "LOOKUP_GRACE",
    "PRODUCTION_API_BASE",
    "SANDBOX_API_BASE",
    "AuthorizeNetGateway",
]
