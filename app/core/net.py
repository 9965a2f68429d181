"""Network safety rules shared by every PayDesk client (Autotask, gateways, QuickBooks).

PayDesk talks HTTPS with verified certificates to real services. The only exception is plain
HTTP to a loopback address, which is where PayDesk's own sandbox servers listen. Credentials
are only ever sent to the host a client was configured for: `require_same_host` turns a
redirect or a "next page" link that points elsewhere into an error instead of a request.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = [
    "ForeignHostError",
    "UnsafeURLError",
    "host_of",
    "is_loopback_host",
    "origin_of",
    "require_safe_url",
    "require_same_host",
]


class UnsafeURLError(ValueError):
    """A URL PayDesk will not send anything to (plain HTTP to a remote host, odd scheme...)."""


class ForeignHostError(UnsafeURLError):
    """A URL points to a different host than the service PayDesk was configured for."""


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and loopback IP literals (127.0.0.0/8, ::1)."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_of(url: str) -> str:
    """The lower-cased host name of `url` ('' when it has none)."""
    return (urlsplit(url).hostname or "").lower()


def require_safe_url(url: str, *, service: str = "the service") -> str:
    """Return `url` unchanged if PayDesk may connect to it, else raise `UnsafeURLError`.

    Allowed: `https://` to any host, and `http://` only to a loopback address (the sandboxes).
    The message names `service` so it can be shown to the user as it is.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if not host:
        raise UnsafeURLError(f"The address for {service} is not a complete web address: {url!r}.")
    if parts.username or parts.password:
        raise UnsafeURLError(
            f"The address for {service} must not contain a user name or password."
        )
    if scheme == "https":
        return url
    if scheme == "http" and is_loopback_host(host):
        return url
    if scheme == "http":
        raise UnsafeURLError(
            f"The address for {service} must start with https:// — PayDesk only uses "
            "unencrypted connections to sandbox servers on this computer."
        )
    raise UnsafeURLError(f"The address for {service} must start with https://.")


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of `url`, with the scheme's default port filled in."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80 if scheme == "http" else 0)
    return (scheme, (parts.hostname or "").lower(), port)


def require_same_host(url: str, expected: str, *, service: str = "the service") -> str:
    """Return `url` if it is safe and on the same server as `expected`, else raise.

    `expected` is a URL of the service (its scheme, host and port must all match) or a bare
    host name (then only the host is compared). Raising happens before anything is sent,
    so credentials never leave for another server.
    """
    require_safe_url(url, service=service)
    if "://" in expected:
        same = origin_of(url) == origin_of(expected)
    else:
        same = host_of(url) == expected.lower()
    if not same:
        raise ForeignHostError(
            f"{service} pointed PayDesk to another server ({host_of(url)}). PayDesk did not "
            "follow it and did not send your credentials there."
        )
    return url
