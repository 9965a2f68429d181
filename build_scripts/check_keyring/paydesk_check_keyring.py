"""A keyring backend for the frozen program's checks only: secrets in a JSON file.

CI machines have no system keychain (no Secret Service, no desktop session), and
``paydesk setup`` rightly refuses to run without one. ``build_scripts/check_frozen.py`` points
the frozen program's ``keyring`` at this file through a ``keyringrc.cfg`` (its ``keyring-path``
adds this folder to ``sys.path``), so ``setup``, ``sync`` and ``doctor`` can run one after the
other in separate processes. The secrets are the sandbox's throwaway ones; the file lives in
the check's temporary folder. It is never shipped with PayDesk and never used outside the
check.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

FILE_VARIABLE = "PAYDESK_CHECK_KEYRING_FILE"


class CheckKeyring(KeyringBackend):
    """Secrets in the JSON file named by ``PAYDESK_CHECK_KEYRING_FILE`` (checks only)."""

    priority = 1.0

    def _path(self) -> Path:
        return Path(os.environ[FILE_VARIABLE])

    def _load(self) -> dict[str, str]:
        path = self._path()
        if not path.is_file():
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in data.items()}

    def _save(self, data: dict[str, str]) -> None:
        self._path().write_text(json.dumps(data), encoding="utf-8")

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\0{username}"] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}\0{username}", None) is None:
            raise PasswordDeleteError(username)
        self._save(data)
