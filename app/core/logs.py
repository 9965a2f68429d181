"""Logging: a rotating file in the profile, and redaction that no secret gets past.

Every handler PayDesk installs formats through ``RedactingFormatter``, which scrubs the final
text — message, arguments and traceback alike — of:
* every secret the program has seen (``register_secret``, called by app.core.credentials),
* secret-bearing headers and fields (Secret, Authorization, ApiIntegrationCode, tokens, keys),
* gateway keys (``sk_live_…``, ``rk_test_…``) and OAuth tokens,
* card-like numbers (13–19 digits, spaces or dashes allowed, passing the Luhn check),
* account-like numbers (bank account and routing numbers next to words that name them).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import threading
from pathlib import Path

REDACTED = "[redacted]"

_known_secrets: set[str] = set()
_known_lock = threading.Lock()
_known_pattern: re.Pattern[str] | None = None


def register_secret(value: str) -> None:
    """Make sure ``value`` never appears in a log line from now on."""
    global _known_pattern
    value = value.strip()
    if len(value) < 4:
        return
    with _known_lock:
        if value in _known_secrets:
            return
        _known_secrets.add(value)
        ordered = sorted(_known_secrets, key=len, reverse=True)
        _known_pattern = re.compile("|".join(re.escape(s) for s in ordered))


_FIELD_RE = re.compile(
    r"""(?ix)
    (?P<key>["']?(?:secret|password|passwd|apiintegrationcode|api[_-]?key|client[_-]?secret|
        transaction[_-]?key|access[_-]?token|refresh[_-]?token|id[_-]?token|token|
        authorization|x-api-key|cvc|cvv|card[_-]?number|account[_-]?number|routing[_-]?number)
        ["']?\s*[:=]\s*)
    (?P<quote>["']?)
    (?P<value>(?:bearer\s+|basic\s+)?[^\s"',;}&]+)
    """
)
_GATEWAY_KEY_RE = re.compile(r"\b(?:sk|rk|pk|whsec)_(?:live|test)_[A-Za-z0-9]{6,}\b")
_BEARER_RE = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_CARD_CANDIDATE_RE = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")
_ACCOUNT_RE = re.compile(
    r"(?i)\b(account|acct|routing|aba|iban|bank)(\s*(?:no\.?|number|#|num)?\s*[:=#]?\s*)"
    r"([A-Z]{0,2}\d[\d -]{3,30}\d)"
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return "[card number redacted]"
    return match.group(0)


def redact(text: str) -> str:
    """Return ``text`` with secrets, keys, tokens, card and account numbers removed."""
    pattern = _known_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    text = _GATEWAY_KEY_RE.sub(REDACTED, text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _FIELD_RE.sub(lambda m: f"{m.group('key')}{m.group('quote')}{REDACTED}", text)
    text = _ACCOUNT_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _CARD_CANDIDATE_RE.sub(_mask_card, text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts the whole text, traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


LOG_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"
LOG_FILENAME = "paydesk.log"


def _private_log_file(logs_folder: Path) -> Path:
    """The log file, in a folder only its owner may read (0700, the file 0600, on POSIX):
    logs name customers and amounts."""
    logs_folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = logs_folder / LOG_FILENAME
    if os.name == "posix":
        logs_folder.chmod(0o700)
        descriptor = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
        os.close(descriptor)
        path.chmod(0o600)
    return path


def setup_logging(logs_folder: Path | None, *, level: int = logging.INFO,
                  console: bool = False) -> Path | None:
    """Send PayDesk's logs to a rotating file (5 × 2 MB) in ``logs_folder``, redacted."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        if getattr(handler, "_paydesk", False):
            root.removeHandler(handler)
            handler.close()
    formatter = RedactingFormatter(LOG_FORMAT)
    path: Path | None = None
    if logs_folder is not None:
        try:
            path = _private_log_file(logs_folder)
            file_handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
            )
        except OSError:
            # A logs folder that is read-only, missing or a file must not stop PayDesk:
            # it runs without a log file (callers get None and can say so).
            path = None
        else:
            file_handler.setFormatter(formatter)
            file_handler._paydesk = True  # type: ignore[attr-defined]
            root.addHandler(file_handler)
    if path is None and not console:
        # No log file could be opened: keep log records (and their tracebacks) away from
        # the person's terminal, where Python's last-resort handler would print them.
        quiet = logging.NullHandler()
        quiet._paydesk = True  # type: ignore[attr-defined]
        root.addHandler(quiet)
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        stream.setLevel(logging.WARNING)
        stream._paydesk = True  # type: ignore[attr-defined]
        root.addHandler(stream)
    # Libraries that would log request URLs or bodies at DEBUG stay at WARNING.
    for noisy in ("urllib3", "stripe", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
