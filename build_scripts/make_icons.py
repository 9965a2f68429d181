"""Make every PayDesk icon from the one drawing, ``resources/icons/paydesk.svg``.

    python build_scripts/make_icons.py

Writes into ``resources/icons/``: ``paydesk-<size>.png`` (the window icon, 16 to 512 pixels),
``paydesk.ico`` (Windows: program, installer and Start menu) and ``paydesk.icns`` (macOS:
the app bundle and the disk image). Qt draws the SVG (no other imaging library needed); the
.ico and .icns containers hold PNG images, which both systems read. Run it after changing the
SVG and commit the results (``tests/core/test_icons.py`` checks they are all there and
well formed).
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "resources" / "icons"
SOURCE = ICONS / "paydesk.svg"

#: The window icon's sizes (the program picks the nearest).
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
#: .icns entry types and their pixel sizes (PNG payloads, macOS 10.7 and later).
ICNS_TYPES = (
    (b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256),
    (b"ic09", 512), (b"ic10", 1024), (b"ic11", 32), (b"ic12", 64), (b"ic13", 512),
    (b"ic14", 1024),
)


def render_png(size: int) -> bytes:
    """The SVG drawn at ``size`` × ``size`` pixels, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        raise SystemExit(f"{SOURCE} is not a drawing Qt can read")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # the stubs say bytes; Qt wants str
    buffer.close()
    return bytes(data.data())


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico holding one PNG image per size."""
    sizes = [s for s in ICO_SIZES if s in pngs]
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries, images = b"", b""
    for size in sizes:
        data = pngs[size]
        side = 0 if size >= 256 else size  # 0 means 256 in the directory entry
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(data), offset)
        images += data
        offset += len(data)
    return header + entries + images


def icns_bytes(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns holding PNG images."""
    chunks = b""
    for kind, size in ICNS_TYPES:
        data = pngs[size]
        chunks += kind + struct.pack(">I", len(data) + 8) + data
    return b"icns" + struct.pack(">I", len(chunks) + 8) + chunks


def make() -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    sizes = sorted({*PNG_SIZES, *ICO_SIZES, *(s for _k, s in ICNS_TYPES)})
    pngs = {size: render_png(size) for size in sizes}
    written = []
    for size in PNG_SIZES:
        path = ICONS / f"paydesk-{size}.png"
        path.write_bytes(pngs[size])
        written.append(path)
    (ICONS / "paydesk.ico").write_bytes(ico_bytes(pngs))
    (ICONS / "paydesk.icns").write_bytes(icns_bytes(pngs))
    return [*written, ICONS / "paydesk.ico", ICONS / "paydesk.icns"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python build_scripts/make_icons.py",
                                     description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    for path in make():
        print(f"{path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
