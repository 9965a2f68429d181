"""The page that opens an Authorize.Net hosted form in the person's browser.

Accept Hosted and Accept Customer open only when the browser *posts* the form token to
Authorize.Net (a plain link with the token is refused). A desktop program cannot make the
browser post, so PayDesk writes a small local page that does it: it submits itself at once
and shows a button for browsers that block scripts. The page holds the token (valid 15
minutes, good only for this form) and nothing else; it is readable only by the current user.
"""

from __future__ import annotations

import html
import os
import secrets
import tempfile
from pathlib import Path

__all__ = ["write_launch_page"]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Opening the secure payment form…</title>
<style>body{{font-family:system-ui,sans-serif;margin:48px;color:#1d2733}}
button{{padding:10px 18px;font-size:15px}}</style></head>
<body onload="document.getElementById('open').submit()">
<p>Opening the secure payment form…</p>
<form id="open" method="post" action="{action}">
<input type="hidden" name="token" value="{token}">
<button type="submit">Open the secure form</button>
</form></body></html>
"""


def write_launch_page(action: str, token: str, *, directory: Path | None = None) -> str:
    """Write the page that posts ``token`` to ``action``; return its ``file://`` address."""
    folder = directory or Path(tempfile.gettempdir()) / "paydesk-hosted-forms"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"form-{secrets.token_hex(8)}.html"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(_PAGE.format(action=html.escape(action, quote=True),
                                  token=html.escape(token, quote=True)))
    return path.resolve().as_uri()
