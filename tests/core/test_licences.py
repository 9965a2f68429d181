"""The licences PayDesk shows in Help > About: collected from the installed libraries (run
from source) or from the file the build ships (installed program)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app.core import licences
from app.core.licences import (
    LibraryLicence,
    collect_licences,
    dependency_closure,
    licences_as_text,
    read_licences_file,
    shipped_licences,
    write_licences_file,
)


def test_the_closure_holds_paydesks_requirements_and_theirs() -> None:
    names = {name.lower().replace("_", "-") for name in dependency_closure("paydesk")}
    # Direct requirements (pyproject.toml) and some of their own requirements.
    assert {"pyside6-essentials", "sqlalchemy", "alembic", "requests", "keyring", "babel"} <= names
    assert {"shiboken6", "urllib3", "certifi", "mako"} <= names
    # Test tools are an extra PayDesk is not shipped with.
    assert "pytest" not in names and "mypy" not in names
    assert "paydesk" not in names


def test_each_library_has_its_licence_name_and_text() -> None:
    collected = {item.name.lower(): item for item in collect_licences(["requests", "alembic"])}
    assert collected["requests"].licence.startswith("Apache")
    assert "Apache License" in collected["requests"].text
    assert collected["alembic"].licence == "MIT"
    assert "Permission is hereby granted" in collected["alembic"].text
    # Python itself is always listed.
    assert collected["python"].licence == "PSF-2.0"


def test_qt_without_a_licence_file_gets_the_lgpl_note() -> None:
    (qt,) = [item for item in collect_licences(["PySide6_Essentials"]) if item.name != "Python"]
    assert "LGPL" in qt.licence or "Lesser General Public License" in qt.text
    assert "replaced" in qt.text or "Lesser General Public License" in qt.text


def test_the_build_file_round_trips(tmp_path: Path) -> None:
    items = [LibraryLicence("demo", "1.0", "MIT", "Permission is hereby granted…", "https://x")]
    path = write_licences_file(tmp_path / licences.LICENCES_FILENAME, items)
    assert read_licences_file(path) == items
    text = licences_as_text(items)
    assert text.startswith("demo 1.0 — MIT")
    assert "Permission is hereby granted" in text


def test_a_frozen_program_reads_the_file_shipped_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    found, source = shipped_licences()
    assert found == [] and "missing" in source and "reinstall" in source
    items = [LibraryLicence("demo", "1.0", "MIT", "text")]
    write_licences_file(tmp_path / licences.LICENCES_FILENAME, items)
    found, source = shipped_licences()
    assert found == items
    assert "built" in source


def test_from_source_the_installed_libraries_are_listed() -> None:
    found, source = shipped_licences()
    names = {item.name.lower() for item in found}
    assert {"sqlalchemy", "python", "keyring"} <= names
    assert "installed" in source
