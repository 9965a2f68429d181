"""PayDesk's local stand-in for a Stripe account: API, hosted checkout page, fault switches.

See :mod:`app.sandbox.gateway.server` for what it speaks and how to drive it.
"""

from __future__ import annotations

from app.sandbox.gateway.server import Fault, GatewaySandbox

__all__ = ["Fault", "GatewaySandbox"]
