"""Settings › Receipts: the company's name, address and logo are saved for every seat; a logo
is chosen from a picture file, made a small PNG and previewed; a file that is no picture is
explained."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from app.core.receipt_identity import load_receipt_identity
from app.gui.context import AppContext
from app.gui.settings import SettingsArea
from app.gui.settings.receipts_section import ReceiptsSection
from tests.gui.conftest import wait_for_background_tasks

_KEEP: list[SettingsArea] = []


@pytest.fixture(autouse=True)
def _release_areas() -> Iterator[None]:
    yield
    _KEEP.clear()


def _section(qtbot: QtBot, context: AppContext) -> ReceiptsSection:
    area = SettingsArea(context)
    qtbot.addWidget(area)
    _KEEP.append(area)  # the area owns the page: keep it alive for the test
    area.show()
    page = area.show_section("receipts")
    assert isinstance(page, ReceiptsSection)
    qtbot.waitUntil(lambda: page._has_stored, timeout=10_000)
    return page


def test_name_address_and_a_logo_from_a_file_are_saved_and_previewed(
    qtbot: QtBot, app_context: AppContext, tmp_path: Path
) -> None:
    page = _section(qtbot, app_context)
    big = QImage(1800, 400, QImage.Format.Format_RGB32)
    big.fill(QColor("#2457C5"))
    picture = tmp_path / "logo.jpg"
    assert big.save(str(picture))

    page.name.setText("Northwind IT Services")
    page.address.setPlainText("12 Harbor Way\nPortland, OR 97205")
    page.load_logo_file(picture)
    qtbot.waitUntil(lambda: page._logo is not None, timeout=10_000)
    assert not page.logo_view.pixmap().isNull()
    assert not page.preview_logo.pixmap().isNull()
    assert "Northwind IT Services" in page.preview_text.text()
    assert "Portland, OR 97205" in page.preview_text.text()

    with qtbot.waitSignals([page.saved, page.loaded], timeout=10_000):
        page.save_button.click()
    stored = load_receipt_identity(app_context.engine)
    assert stored.name == "Northwind IT Services"
    assert stored.address == "12 Harbor Way\nPortland, OR 97205"
    assert stored.logo_png is not None
    logo = QImage.fromData(stored.logo_png)
    assert (logo.width(), logo.height()) == (600, 133)  # scaled to fit 600 × 200

    page.remove_logo.click()
    assert page.has_unsaved_changes()
    page.revert_button.click()
    assert page._logo == stored.logo_png
    wait_for_background_tasks(qtbot)


def test_a_file_that_is_no_picture_is_explained(
    qtbot: QtBot, app_context: AppContext, tmp_path: Path
) -> None:
    page = _section(qtbot, app_context)
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    page.load_logo_file(text)
    qtbot.waitUntil(lambda: page.choose_logo.isEnabled(), timeout=10_000)
    assert "notes.png is not a picture PayDesk can read" in page.message.text()
    assert page._logo is None


def test_a_logo_without_a_company_name_is_refused(
    qtbot: QtBot, app_context: AppContext
) -> None:
    page = _section(qtbot, app_context)
    page.address.setPlainText("12 Harbor Way")
    page.save_button.click()
    assert "Enter the company name" in page.message.text()
    assert load_receipt_identity(app_context.engine).address == ""
    wait_for_background_tasks(qtbot)
