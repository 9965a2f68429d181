"""Check for Updates against a release feed served over real HTTP on loopback."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.core.updates import (
    FEED_VARIABLE,
    ReleaseFeed,
    UpdateStatus,
    check_for_updates,
    configured_feed,
    github_feed,
    parse_version,
)


@dataclass
class FeedServer:
    """A release feed: answers every GET with ``status`` and ``body``; records requests."""

    status: int = 200
    body: bytes = b"{}"
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    def release(self, tag: str, page: str = "https://github.com/acme/paydesk/releases/tag/x"
                ) -> None:
        self.status = 200
        self.body = json.dumps({"tag_name": tag, "html_url": page, "name": tag}).encode()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    state = FeedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append({"path": self.path, **dict(self.headers.items())})
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/repos/acme/paydesk/releases/latest"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def feed_of(server: FeedServer) -> ReleaseFeed:
    return ReleaseFeed(server.url, "https://github.com/acme/paydesk/releases/latest")


def test_a_newer_release_is_announced_with_its_download_page(feed_server: FeedServer) -> None:
    feed_server.release("v0.2.0", "https://github.com/acme/paydesk/releases/tag/v0.2.0")
    check = check_for_updates(feed_of(feed_server), running="0.1.0")
    assert check.status is UpdateStatus.NEWER
    assert check.latest == "0.2.0"
    assert check.download_page == "https://github.com/acme/paydesk/releases/tag/v0.2.0"
    assert "0.2.0" in check.title
    assert "does not download or install anything" in check.text
    # One GET, nothing else: the feed is asked, nothing is downloaded.
    assert len(feed_server.requests) == 1
    assert feed_server.requests[0]["path"] == "/repos/acme/paydesk/releases/latest"
    assert feed_server.requests[0]["User-Agent"] == "PayDesk/0.1.0"


def test_the_same_or_an_older_release_means_up_to_date(feed_server: FeedServer) -> None:
    feed_server.release("v0.1.0")
    assert check_for_updates(feed_of(feed_server), running="0.1.0").status is (
        UpdateStatus.UP_TO_DATE)
    feed_server.release("0.0.9")
    check = check_for_updates(feed_of(feed_server), running="0.1.0")
    assert check.status is UpdateStatus.UP_TO_DATE
    assert "0.1.0" in check.text


def test_a_release_page_on_another_server_is_replaced_by_the_downloads_page(
    feed_server: FeedServer,
) -> None:
    feed_server.release("v9.0.0", "https://downloads.example.net/paydesk-9.exe")
    check = check_for_updates(feed_of(feed_server), running="0.1.0")
    assert check.status is UpdateStatus.NEWER
    assert check.download_page == "https://github.com/acme/paydesk/releases/latest"


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (404, b'{"message": "Not Found"}', "No release has been published yet"),
        (500, b"oops", "HTTP 500"),
        (200, b"not json", "could not be read"),
        (200, b'{"tag_name": "latest"}', "could not be read"),
    ],
)
def test_feed_problems_say_what_happened_and_where_to_look(
    feed_server: FeedServer, status: int, body: bytes, words: str
) -> None:
    feed_server.status, feed_server.body = status, body
    check = check_for_updates(feed_of(feed_server), running="0.1.0")
    assert check.status is UpdateStatus.FAILED
    assert words in check.text
    assert "https://github.com/acme/paydesk/releases/latest" in check.text


def test_an_unreachable_feed_fails_politely() -> None:
    with socket.socket() as probe:  # a port nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = ReleaseFeed(f"http://127.0.0.1:{port}/releases/latest", "https://x/")
    check = check_for_updates(closed, running="0.1.0")
    assert check.status is UpdateStatus.FAILED
    assert "could not be reached" in check.text


def test_plain_http_to_another_computer_is_refused_before_connecting() -> None:
    check = check_for_updates(ReleaseFeed("http://updates.example.com/latest", "https://x/"))
    assert check.status is UpdateStatus.FAILED
    assert "https://" in check.text


def test_without_a_feed_the_check_says_so() -> None:
    check = check_for_updates(None, running="0.1.0")
    assert check.status is UpdateStatus.NOT_CONFIGURED
    assert check.download_page is None
    assert FEED_VARIABLE in check.text


def test_the_feed_comes_from_the_environment_then_the_shipped_release_file(
    tmp_path: Path,
) -> None:
    release_file = tmp_path / "release.json"
    release_file.write_text(json.dumps({
        "feed": "https://api.github.com/repos/acme/paydesk/releases/latest",
        "downloads": "https://github.com/acme/paydesk/releases/latest",
    }))
    shipped = configured_feed({}, release_file)
    assert shipped == github_feed("acme/paydesk")
    assert configured_feed({FEED_VARIABLE: "off"}, release_file) is None
    assert configured_feed({FEED_VARIABLE: ""}, release_file) is None
    own = configured_feed({FEED_VARIABLE: "https://api.github.com/repos/it/pd/releases/latest"},
                          release_file)
    assert own == ReleaseFeed("https://api.github.com/repos/it/pd/releases/latest",
                              "https://github.com/it/pd/releases/latest")
    # Run from source: no shipped file, no variable, no feed.
    assert configured_feed({}, tmp_path / "missing.json") is None


def test_versions_compare_as_people_expect() -> None:
    assert parse_version("v1.2.0") == parse_version("1.2")
    assert parse_version("1.10.0") > parse_version("1.9.9")  # type: ignore[operator]
    assert parse_version("1.2.0rc1") < parse_version("1.2.0")  # type: ignore[operator]
    assert parse_version("1.2.0b2") < parse_version("1.2.0rc1")  # type: ignore[operator]
    assert parse_version("nightly") is None
