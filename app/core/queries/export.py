"""One way to write a table to CSV: rows fetched a chunk at a time, progress, cancel.

Both CSV exports (Invoice History and Payment Search) go through ``write_csv``. It runs in a
worker: the screen hands it the keys of what it lists, in order, a function fetching rows
by key (one short connection per chunk) and a function turning a row into its cells. For a
large export it reports ``ExportProgress`` after every chunk, and stops between chunks when
``cancel`` is set (the partial file is removed, so a half-written CSV is never left behind
looking complete). Qt-free.
"""

from __future__ import annotations

import contextlib
import csv
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO, TypeVar

__all__ = ["CHUNK_SIZE", "ExportCancelled", "ExportProgress", "write_csv"]

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")

#: Rows fetched per round trip while exporting.
CHUNK_SIZE = 2_000


@dataclass(frozen=True, slots=True)
class ExportProgress:
    """``done`` of ``total`` rows written so far."""

    done: int
    total: int


class ExportCancelled(Exception):
    """The person cancelled the export; nothing was left on disk."""


def write_csv(
    destination: Path | TextIO,
    header: Sequence[str],
    keys: Sequence[K],
    fetch_rows: Callable[[Sequence[K]], Mapping[K, R]],
    cells: Callable[[R], Sequence[str]],
    *,
    encoding: str = "utf-8",
    chunk_size: int = CHUNK_SIZE,
    on_progress: Callable[[ExportProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> int:
    """Write ``header`` and one line per key (in ``keys`` order; keys whose row is gone are
    skipped) to ``destination``. Returns the number of rows written."""

    def write(handle: TextIO) -> int:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        count = 0
        for start in range(0, len(keys), chunk_size):
            if cancel is not None and cancel.is_set():
                raise ExportCancelled
            chunk = keys[start : start + chunk_size]
            rows = fetch_rows(chunk)
            for key in chunk:
                row = rows.get(key)
                if row is not None:
                    writer.writerow(cells(row))
                    count += 1
            if on_progress is not None:
                on_progress(ExportProgress(min(start + chunk_size, len(keys)), len(keys)))
        return count

    if not isinstance(destination, Path):
        return write(destination)
    try:
        with destination.open("w", newline="", encoding=encoding) as handle:
            return write(handle)
    except ExportCancelled:
        with contextlib.suppress(OSError):
            destination.unlink()
        raise
