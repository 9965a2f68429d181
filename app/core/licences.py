"""The licences of the libraries PayDesk ships with, for Help > About PayDesk.

An installed PayDesk (the PyInstaller build) carries ``THIRD-PARTY-LICENCES.json``, written at
build time by ``build_scripts/build.py`` from the same functions used here, so the About box
lists exactly what was packed. Run from a source checkout or a wheel, the list is read at run
time from the installed distributions' metadata (``importlib.metadata``): PayDesk's own
requirements and everything they require in turn.

No Qt here: the build script imports this module without a display.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

__all__ = [
    "LICENCES_FILENAME",
    "LibraryLicence",
    "collect_licences",
    "dependency_closure",
    "licences_as_text",
    "read_licences_file",
    "shipped_licences",
    "write_licences_file",
]

#: The file the build writes next to the frozen program's data (``sys._MEIPASS``).
LICENCES_FILENAME = "THIRD-PARTY-LICENCES.json"

#: PayDesk's own distribution name (pyproject.toml).
PAYDESK_DISTRIBUTION = "paydesk"

#: Files in a distribution that hold its licence text.
_LICENCE_FILE = re.compile(r"(^|/)(LICEN[CS]E|COPYING|NOTICE|AUTHORS)[^/]*$", re.IGNORECASE)
#: A licence text longer than this is cut (some distributions bundle many licences).
_MAX_TEXT = 200_000

_QT_NOTE = (
    "Qt and Qt for Python (PySide6, shiboken6) are used under the GNU Lesser General Public "
    "License version 3 (https://www.gnu.org/licenses/lgpl-3.0.html). Their source code is "
    "published by The Qt Company at https://download.qt.io/official_releases/QtForPython/ and "
    "https://code.qt.io. PayDesk ships the Qt libraries as separate files in its program "
    "folder (never linked into one file), so they can be replaced by other builds of the "
    "same Qt version."
)
#: Text for distributions that publish no licence file of their own.
_SUPPLEMENTS = {"pyside6-essentials": _QT_NOTE, "shiboken6": _QT_NOTE, "pyside6": _QT_NOTE}


@dataclass(frozen=True, slots=True)
class LibraryLicence:
    """One shipped library: its name, version, licence name and the licence text."""

    name: str
    version: str
    licence: str
    text: str
    homepage: str = ""


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> tuple[str, str]:
    """``("name", marker)`` of a ``Requires-Dist`` line, extras dropped."""
    spec, _, marker = requirement.partition(";")
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return (match.group(1) if match else spec.strip()), marker.strip()


def _marker_applies(marker: str, extras: set[str]) -> bool:
    """Whether a requirement's environment marker holds here (extras as asked)."""
    if not marker:
        return True
    try:
        from packaging.markers import Marker
    except ImportError:  # packaging absent: take only requirements without an extra
        return "extra" not in marker
    environments = [{"extra": extra} for extra in sorted(extras)] or [{"extra": ""}]
    parsed = Marker(marker)
    return any(parsed.evaluate(env) for env in environments)


def dependency_closure(root: str = PAYDESK_DISTRIBUTION, extras: Iterable[str] = ()) -> list[str]:
    """The installed distributions ``root`` (with ``extras``) needs, ``root`` left out.

    Requirements that are not installed (an optional extra, another platform's backend) are
    skipped: only what is present can be shipped.
    """
    seen: dict[str, str] = {}
    pending: list[tuple[str, set[str]]] = [(root, set(extras))]
    while pending:
        name, wanted = pending.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        key = _normalise(dist.metadata["Name"])
        if key in seen and not wanted:
            continue
        seen[key] = dist.metadata["Name"]
        for requirement in dist.requires or []:
            child, marker = _requirement_name(requirement)
            extra_in_marker = "extra" in marker
            if not _marker_applies(marker, wanted):
                continue
            if _normalise(child) in seen and not extra_in_marker:
                continue
            child_extras: set[str] = set()
            bracket = re.search(r"\[([^\]]+)\]", requirement.partition(";")[0])
            if bracket:
                child_extras = {e.strip() for e in bracket.group(1).split(",")}
            pending.append((child, child_extras))
    seen.pop(_normalise(root), None)
    return sorted(seen.values(), key=str.lower)


def _field(dist: metadata.Distribution, name: str) -> str:
    """A metadata field's first value ('' when absent)."""
    values = dist.metadata.get_all(name)
    return str(values[0]) if values else ""


def _licence_name(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    expression = _field(dist, "License-Expression")
    if expression:
        return expression
    declared = _field(dist, "License").strip()
    if declared and "\n" not in declared and len(declared) < 80:
        return declared
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::") and c.count("::") >= 2
    ]
    if classifiers:
        return ", ".join(classifiers)
    return "see the licence text" if declared else "not stated"


def _licence_text(dist: metadata.Distribution) -> str:
    texts: list[str] = []
    for file in dist.files or []:
        if not _LICENCE_FILE.search(str(file)):
            continue
        try:
            content = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        texts.append(f"--- {Path(str(file)).name} ---\n{content.strip()}")
    if not texts:
        declared = _field(dist, "License").strip()
        if "\n" in declared or len(declared) >= 80:
            texts.append(declared)
    return "\n\n".join(texts)[:_MAX_TEXT]


def _homepage(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    home = _field(dist, "Home-page")
    if home:
        return home
    for url in meta.get_all("Project-URL") or []:
        label, _, address = url.partition(",")
        if label.strip().lower() in ("homepage", "home", "source", "repository"):
            return str(address).strip()
    return ""


def collect_licences(names: Iterable[str]) -> list[LibraryLicence]:
    """The licence of each installed distribution in ``names`` (missing ones are skipped)."""
    result: list[LibraryLicence] = []
    for name in names:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        result.append(
            LibraryLicence(
                name=str(dist.metadata["Name"]),
                version=str(dist.version),
                licence=_licence_name(dist),
                text=_licence_text(dist) or _SUPPLEMENTS.get(_normalise(name), ""),
                homepage=_homepage(dist),
            )
        )
    result.append(python_licence())
    return sorted(result, key=lambda item: item.name.lower())


def python_licence() -> LibraryLicence:
    """Python itself, which every PayDesk carries."""
    version = ".".join(str(part) for part in sys.version_info[:3])
    return LibraryLicence(
        name="Python",
        version=version,
        licence="PSF-2.0",
        text="Python is distributed under the Python Software Foundation License Version 2; "
        "the full text is at https://docs.python.org/3/license.html",
        homepage="https://www.python.org",
    )


def write_licences_file(path: Path, licences: Iterable[LibraryLicence]) -> Path:
    """Write the list as JSON (what the build ships with the program)."""
    items = [asdict(item) for item in licences]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(items, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_licences_file(path: Path) -> list[LibraryLicence]:
    items = json.loads(path.read_text(encoding="utf-8"))
    return [LibraryLicence(**item) for item in items]


def bundled_licences_path() -> Path | None:
    """The licences file shipped with a frozen PayDesk, or None when run from source."""
    frozen = getattr(sys, "_MEIPASS", None)
    if not frozen:
        return None
    return Path(frozen) / LICENCES_FILENAME


def shipped_licences() -> tuple[list[LibraryLicence], str]:
    """(licences, where they came from) — the build's file, or the installed metadata."""
    bundled = bundled_licences_path()
    if bundled is not None:
        if bundled.is_file():
            return read_licences_file(bundled), "the list collected when this PayDesk was built"
        return [], f"the list of licences is missing ({bundled}); reinstall PayDesk to restore it"
    names = dependency_closure(PAYDESK_DISTRIBUTION, extras=("postgres",))
    return collect_licences(names), "the libraries installed with this copy of PayDesk"


def licences_as_text(licences: Iterable[LibraryLicence]) -> str:
    """Plain text: a summary line per library, then each licence text in full."""
    items = list(licences)
    lines = [f"{item.name} {item.version} — {item.licence}" for item in items]
    blocks = []
    for item in items:
        header = f"==== {item.name} {item.version} ({item.licence}) ===="
        body = item.text or "(no licence text was published with this library)"
        if item.homepage:
            header += f"\n{item.homepage}"
        blocks.append(f"{header}\n{body}")
    return "\n".join(lines) + "\n\n\n" + "\n\n\n".join(blocks) + "\n"
