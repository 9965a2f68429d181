"""The icons made from resources/icons/paydesk.svg by build_scripts/make_icons.py are all
committed and well formed: the window icon's PNGs, the Windows .ico and the macOS .icns."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

ICONS = Path(__file__).resolve().parents[2] / "resources" / "icons"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("size", [16, 24, 32, 48, 64, 128, 256, 512])
def test_window_icon_png(size: int) -> None:
    assert png_size((ICONS / f"paydesk-{size}.png").read_bytes()) == (size, size)


def test_windows_ico_holds_every_size_up_to_256() -> None:
    data = (ICONS / "paydesk.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1)
    sizes = set()
    for index in range(count):
        width, height, _c, _r, _p, _b, length, offset = struct.unpack(
            "<BBBBHHII", data[6 + 16 * index: 22 + 16 * index])
        image = data[offset: offset + length]
        side = width or 256
        assert png_size(image) == (side, height or 256)
        sizes.add(side)
    assert {16, 32, 48, 256} <= sizes


def test_macos_icns_holds_the_retina_sizes() -> None:
    data = (ICONS / "paydesk.icns").read_bytes()
    assert data[:4] == b"icns"
    assert struct.unpack(">I", data[4:8])[0] == len(data)
    kinds = {}
    position = 8
    while position < len(data):
        kind = data[position: position + 4]
        length = struct.unpack(">I", data[position + 4: position + 8])[0]
        kinds[kind] = png_size(data[position + 8: position + length])
        position += length
    assert kinds[b"ic10"] == (1024, 1024)  # 512 pt @2x
    assert kinds[b"ic07"] == (128, 128)
    assert kinds[b"icp4"] == (16, 16)
