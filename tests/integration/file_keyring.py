"""A keyring backend in a JSON file, so separate ``paydesk`` processes in a test share secrets.

Selected in subprocesses with ``PYTHON_KEYRING_BACKEND=tests.integration.file_keyring.FileKeyring``
and ``PAYDESK_TEST_KEYRING_FILE=<path>``. Test use only: it keeps secrets in plain text.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    @property
    def path(self) -> Path:
        return Path(os.environ["PAYDESK_TEST_KEYRING_FILE"])

    def _load(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        return dict(json.loads(self.path.read_text(encoding="utf-8")))

    def _save(self, entries: dict[str, str]) -> None:
        # Write-then-rename, so a process reading at the same moment sees the old or the new
        # file, never half of one (OS keychains are atomic too).
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(entries), encoding="utf-8")
        os.replace(partial, self.path)

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}|{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._load()
        entries[f"{service}|{username}"] = password
        self._save(entries)

    def delete_password(self, service: str, username: str) -> None:
        entries = self._load()
        if entries.pop(f"{service}|{username}", None) is None:
            raise PasswordDeleteError("not found")
        self._save(entries)
