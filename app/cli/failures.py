"""Every ``paydesk`` command fails in one clear line.

`run_command` wraps each sub-command's handler: it checks the global options first (a
``--database-url`` that does not parse, a ``--profile`` that is a file), sets up logging like
the window does (redacted, into the profile's ``paydesk.log``; a logs folder that cannot be
written does not stop the command), and turns anything that escapes the handler into one
sentence on standard error — the traceback goes to the log, never to the person.

Exit statuses shared by every command (each command documents its own as well):

* 2 — a global option, the profile folder or the database cannot be used;
* 70 — something unexpected stopped the command (the log has the details);
* 130 — stopped with Ctrl+C.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

EXIT_CANNOT_START = 2
EXIT_UNEXPECTED = 70
EXIT_INTERRUPTED = 130

#: The databases PayDesk works with (``--database-url``).
SUPPORTED_BACKENDS = ("sqlite", "postgresql")

EPILOG = (
    "Every command: exit status 2 when a global option, the profile folder or the database "
    "cannot be used, 70 when something unexpected stopped it (the details are in the log, "
    "paydesk.log in the profile's logs folder), 130 when stopped with Ctrl+C."
)

log = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace], int]


def say(line: str) -> None:
    """One line to standard error (never raises, whatever the terminal's encoding)."""
    stream = sys.stderr
    encoding = getattr(stream, "encoding", None) or "utf-8"
    text = line.encode(encoding, "replace").decode(encoding, "replace")
    with contextlib.suppress(OSError):
        print(text, file=stream, flush=True)


def check_global_options(args: argparse.Namespace) -> str | None:
    """A sentence when ``--database-url`` or ``--profile`` cannot be used, else None."""
    url = getattr(args, "database_url", None)
    if url is not None:
        problem = describe_database_url(url)
        if problem:
            return problem
    folder: Path | None = getattr(args, "profile", None)
    if folder is not None:
        path = folder.expanduser()
        if path.exists() and not path.is_dir():
            return (f"The profile folder {path} is a file, not a folder. Give --profile a "
                    "folder (PayDesk creates it if it does not exist).")
    return None


def describe_database_url(url: str) -> str | None:
    """Why ``url`` is not a database address PayDesk can use (None when it is)."""
    example = "postgresql+psycopg://user@server/paydesk or sqlite:///path/to/paydesk.sqlite3"
    try:
        parsed = make_url(url)
    except Exception:  # ArgumentError, ValueError: the text is not a database address
        return (f"The --database-url is not a database address PayDesk understands. Use "
                f"one like {example}.")
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        return (f"PayDesk works with PostgreSQL and SQLite databases, not {backend!r}. Use "
                f"an address like {example}.")
    if backend == "postgresql" and not parsed.host and not parsed.query.get("host"):
        return ("The --database-url names no PostgreSQL server. Use an address like "
                "postgresql+psycopg://user@server/paydesk.")
    return None


def start_logging(args: argparse.Namespace) -> Path | None:
    """Log like the window: redacted, into the profile's logs folder. A folder that cannot
    be created or written leaves the command without a log file, not without a result."""
    from app.core.config import Profile
    from app.core.logs import setup_logging

    try:
        profile = Profile.open(getattr(args, "profile", None), getattr(args, "database_url", None))
        return setup_logging(profile.logs_folder)
    except OSError:
        setup_logging(None)
        return None


def run_command(handler: Handler, args: argparse.Namespace) -> int:
    """Run one sub-command; see the module docstring."""
    problem = check_global_options(args)
    if problem:
        say(problem)
        return EXIT_CANNOT_START
    log_file: Path | None = None
    if getattr(args, "command", None) != "sandbox":
        log_file = start_logging(args)
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        say("Stopped.")
        return EXIT_INTERRUPTED
    except Exception as exc:
        log.exception("The command %r stopped", getattr(args, "command", None))
        sentence = describe_failure(exc)
        if sentence is not None:
            say(sentence)
            return EXIT_CANNOT_START
        where = f" The details are in {log_file}." if log_file else ""
        say(f"PayDesk stopped because of a problem it did not expect "
            f"({type(exc).__name__}).{where}")
        return EXIT_UNEXPECTED


def describe_failure(exc: BaseException) -> str | None:
    """A sentence for failures with a known cause (profile folder, database), else None."""
    from app.core.storage.engine import DatabaseError

    if isinstance(exc, DatabaseError):
        return str(exc)
    if isinstance(exc, OSError) and getattr(exc, "filename", None):
        reason = exc.strerror or type(exc).__name__
        return (f"PayDesk could not use {exc.filename}: {reason}. Check the folder exists "
                "and that you may write to it, or choose another one with --profile.")
    from app.core.storage.engine import describe_database_failure

    return describe_database_failure(exc)
