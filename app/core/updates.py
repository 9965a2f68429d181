"""Help > Check for Updates: is a newer PayDesk published, and where to download it.

PayDesk asks one *release feed* — a web address answering like GitHub's "latest release" API
(``https://api.github.com/repos/OWNER/REPO/releases/latest``: JSON with ``tag_name`` and
``html_url``) — compares the newest version with the running one, and says where to download
it. It never downloads or runs anything itself, and only checks when the person asks.

Where the feed comes from, first found wins:

1. the environment variable ``PAYDESK_RELEASE_FEED``: a feed address, or ``off`` (or empty)
   to switch checking off — IT departments that roll PayDesk out themselves use ``off``;
2. ``release.json`` shipped with an installed PayDesk, written by ``build_scripts/build.py``
   from the repository the release was built from (``{"feed": ..., "downloads": ...}``);
3. none: a PayDesk run from source code has no feed, and says so.

No Qt here; ``check_for_updates`` does network I/O and runs on a worker thread.
"""

from __future__ import annotations

import enum
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from app import __version__
from app.core.net import UnsafeURLError, host_of, require_safe_url

__all__ = [
    "FEED_VARIABLE",
    "RELEASE_INFO_FILENAME",
    "ReleaseFeed",
    "UpdateCheck",
    "UpdateStatus",
    "check_for_updates",
    "configured_feed",
    "github_feed",
    "parse_version",
]

FEED_VARIABLE = "PAYDESK_RELEASE_FEED"
RELEASE_INFO_FILENAME = "release.json"
#: (connect, read) seconds: a slow feed must not keep the person waiting long.
TIMEOUT = (5.0, 10.0)
_OFF = {"", "off", "no", "none", "0", "false"}


@dataclass(frozen=True, slots=True)
class ReleaseFeed:
    """Where to ask for the newest release, and the page people download from."""

    url: str
    downloads: str


def github_feed(repository: str, server: str = "https://github.com") -> ReleaseFeed:
    """The feed of a GitHub repository ``owner/name``."""
    api = "https://api.github.com" if host_of(server) == "github.com" else f"{server}/api/v3"
    return ReleaseFeed(f"{api}/repos/{repository}/releases/latest",
                       f"{server}/{repository}/releases/latest")


def _release_info_path() -> Path | None:
    frozen = getattr(sys, "_MEIPASS", None)
    return Path(frozen) / RELEASE_INFO_FILENAME if frozen else None


def configured_feed(
    environ: dict[str, str] | None = None, release_info: Path | None = None
) -> ReleaseFeed | None:
    """The release feed this PayDesk uses, or None when checking is off or not configured."""
    env = os.environ if environ is None else environ
    if FEED_VARIABLE in env:
        value = env[FEED_VARIABLE].strip()
        if value.lower() in _OFF:
            return None
        return ReleaseFeed(value, _downloads_page_for(value))
    path = release_info if release_info is not None else _release_info_path()
    if path is None or not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return ReleaseFeed(str(info["feed"]), str(info.get("downloads") or info["feed"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _downloads_page_for(feed_url: str) -> str:
    match = re.match(r"https://api\.github\.com/repos/([^/]+/[^/]+)/releases", feed_url)
    if match:
        return f"https://github.com/{match.group(1)}/releases/latest"
    return feed_url


# --- versions -----------------------------------------------------------------------------------

_VERSION = re.compile(r"^\s*v?(\d+(?:\.\d+)*)(?:[-.]?(a|alpha|b|beta|rc|c)\.?(\d*))?", re.I)
_PRE_ORDER = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2}


def parse_version(text: str) -> tuple[tuple[int, ...], tuple[int, int]] | None:
    """``"v1.2.0rc1"`` -> ((1, 2, 0), (2, 1)); a final release sorts after its pre-releases.

    None when ``text`` does not start with a version number.
    """
    match = _VERSION.match(text)
    if not match:
        return None
    numbers = tuple(int(part) for part in match.group(1).split("."))
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers = numbers[:-1]
    if match.group(2):
        pre = (_PRE_ORDER[match.group(2).lower()], int(match.group(3) or 0))
    else:
        pre = (9, 0)
    return numbers, pre


# --- the check ----------------------------------------------------------------------------------


class UpdateStatus(enum.Enum):
    UP_TO_DATE = "up to date"
    NEWER = "newer version"
    NOT_CONFIGURED = "not configured"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class UpdateCheck:
    """What the check found, and the sentences to show."""

    status: UpdateStatus
    running: str
    latest: str | None
    #: The page to download from (the release's page when the feed names one).
    download_page: str | None
    title: str
    text: str


def _not_configured(running: str) -> UpdateCheck:
    return UpdateCheck(
        UpdateStatus.NOT_CONFIGURED, running, None, None,
        "Updates are not checked by this PayDesk",
        f"This is PayDesk {running}. This copy has no release feed to ask for new versions "
        f"(it was started from source code, or its checks were switched off with "
        f"{FEED_VARIABLE}=off). Ask whoever installed PayDesk for newer versions.",
    )


def _failed(running: str, feed: ReleaseFeed, reason: str) -> UpdateCheck:
    return UpdateCheck(
        UpdateStatus.FAILED, running, None, feed.downloads,
        "PayDesk could not check for updates",
        f"{reason} Check the internet connection and try again later, or look for a newer "
        f"version than {running} on the downloads page: {feed.downloads}",
    )


def _release_page(release: dict[str, Any], feed: ReleaseFeed) -> str:
    """The release's own page when it is on the feed's or the downloads page's server."""
    page = release.get("html_url")
    if isinstance(page, str):
        try:
            require_safe_url(page)
        except UnsafeURLError:
            return feed.downloads
        allowed = {host_of(feed.url), host_of(feed.downloads), "github.com"}
        if host_of(page) in allowed:
            return page
    return feed.downloads


def check_for_updates(
    feed: ReleaseFeed | None, running: str = __version__, session: requests.Session | None = None
) -> UpdateCheck:
    """Ask ``feed`` for the newest release and compare it with ``running``. Worker thread."""
    if feed is None:
        return _not_configured(running)
    try:
        require_safe_url(feed.url, service="the release feed")
    except UnsafeURLError as exc:
        return _failed(running, feed, f"{exc}")
    http = session or requests.Session()
    try:
        response = http.get(
            feed.url,
            headers={"Accept": "application/vnd.github+json", "User-Agent": f"PayDesk/{running}"},
            timeout=TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return _failed(running, feed, f"The release feed could not be reached "
                       f"({type(exc).__name__}).")
    finally:
        if session is None:
            http.close()
    if response.status_code == 404:
        return _failed(running, feed, "No release has been published yet.")
    if response.status_code != 200:
        return _failed(running, feed, f"The release feed answered with an error "
                       f"(HTTP {response.status_code}).")
    try:
        release = response.json()
        tag = str(release["tag_name"])
    except (ValueError, KeyError, TypeError):
        return _failed(running, feed, "The release feed's answer could not be read.")
    latest, current = parse_version(tag), parse_version(running)
    if latest is None or current is None:
        return _failed(running, feed, f"The newest release's version ({tag!r}) could not be "
                       "read.")
    latest_text = tag.strip().lstrip("vV")
    page = _release_page(release, feed)
    if latest > current:
        return UpdateCheck(
            UpdateStatus.NEWER, running, latest_text, page,
            f"PayDesk {latest_text} is available",
            f"You have PayDesk {running}. Download the new version from its page and install "
            "it over this one: your profile, settings and database are kept. PayDesk does not "
            f"download or install anything by itself.\n\nDownload page: {page}",
        )
    return UpdateCheck(
        UpdateStatus.UP_TO_DATE, running, latest_text, page,
        "PayDesk is up to date",
        f"You have PayDesk {running}, the newest version published ({latest_text}).",
    )
