"""PayDesk's local stand-in for an Authorize.Net merchant account: the JSON API, the hosted
forms, settlement and fault switches.

See :mod:`app.sandbox.authorizenet.server` for what it speaks and how to drive it.
"""

from __future__ import annotations

from app.sandbox.authorizenet.server import API_PATH, AuthorizeNetSandbox, Fault

__all__ = ["API_PATH", "AuthorizeNetSandbox", "Fault"]
