"""Checks on the values a person types during setup. Each returns a message or None.

Messages say what is wrong and what to type instead; they are shown under the field.
"""

from __future__ import annotations

import re

from app.core import net

__all__ = [
    "typed_zone_notice",
    "validate_integration_code",
    "validate_secret",
    "validate_username",
    "validate_zone_url",
]

# Deliberately simple: one "@", something before it, a dotted domain after it, no spaces.
# Autotask itself decides whether the address is a real API user.
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$")


def _outside_latin1(value: str) -> str | None:
    """The first character a sign-in header cannot carry (HTTP headers are Latin-1)."""
    for ch in value:
        if ord(ch) > 0xFF or ord(ch) < 0x20 or ch == "\x7f":
            return ch
    return None


def _bad_character(what: str, value: str) -> str | None:
    ch = _outside_latin1(value)
    if ch is None:
        return None
    shown = f"“{ch}”" if ch.isprintable() else f"U+{ord(ch):04X}"
    return (f"The {what} contains a character Autotask sign-ins cannot carry ({shown}). "
            "Copy it again from Autotask; if it really contains that character, create a "
            "new one in Autotask.")


def validate_username(text: str) -> str | None:
    value = text.strip()
    if not value:
        return "Enter the API user's user name (its email address)."
    if bad := _bad_character("user name", value):
        return bad
    if not _EMAIL_RE.match(value):
        return (
            "The API user name is an email address, for example api.paydesk@yourcompany.com. "
            "Copy it from Autotask > Admin > Resources/Users."
        )
    return None


def validate_secret(text: str, *, stored: bool = False) -> str | None:
    """An empty field is fine when a secret is already stored (it is then kept)."""
    if text.strip():
        if text != text.strip():
            return "The secret starts or ends with a space. Copy it again without spaces."
        return _bad_character("secret", text)
    if stored:
        return None
    return "Enter the API user's secret (from its Credentials section in Autotask)."


def validate_integration_code(text: str) -> str | None:
    value = text.strip()
    if not value:
        return (
            "Enter the API integration code (the API Tracking Identifier shown on the API "
            "user in Autotask)."
        )
    if any(ch.isspace() for ch in value):
        return "The integration code has no spaces. Copy it again from Autotask."
    return _bad_character("integration code", value)


def validate_zone_url(text: str) -> str | None:
    """The optional zone address: empty (find it automatically) or a safe web address."""
    value = text.strip()
    if not value:
        return None
    if "://" not in value:
        return (
            "Enter the full address, for example "
            "https://webservices15.autotask.net/ATServicesRest/ — or leave it empty."
        )
    try:
        net.require_safe_url(value, service="the Autotask zone")
    except net.UnsafeURLError as exc:
        return str(exc)
    return None


def typed_zone_notice(text: str) -> str | None:
    """What a zone address typed by hand is, when it is not on Autotask's own servers.

    A typed address is used as given (discovery is what PayDesk checks against Autotask's
    domains), so the person is shown plainly where the API secret will go.
    """
    from app.core.autotask.client import is_autotask_host

    value = text.strip()
    if not value or validate_zone_url(value) is not None:
        return None
    host = net.host_of(value)
    if is_autotask_host(host) or net.is_loopback_host(host):
        return None
    return (f"{host} is not one of Autotask's own servers (autotask.net). PayDesk will send "
            "the API user's secret there: use this address only if your IT department gave "
            "it to you.")
