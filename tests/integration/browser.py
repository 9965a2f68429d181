"""Headless Chromium for the tests that drive a real page (hosted checkout forms, the
QuickBooks relay page), through Playwright with the machine's own Chromium.

``CHROMIUM`` is where it is looked for (``PAYDESK_CHROMIUM`` overrides); ``needs_chromium``
marks a test or module that is skipped, saying why, when it is missing; the ``browser`` and
``page`` fixtures are in ``tests/integration/conftest.py``. ``screenshot`` keeps a picture of
the page when ``PAYDESK_SCREENSHOT_DIR`` is set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path(os.environ.get("PAYDESK_CHROMIUM", "/usr/bin/chromium"))
#: Chromium's flags for a machine with no network but loopback and no display.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage"]

needs_chromium = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason=f"Chromium is not installed at {CHROMIUM} "
                       "(Debian: apt-get install chromium)"),
]


def screenshot(page: Page, name: str) -> None:
    """Keep a picture of the page in ``PAYDESK_SCREENSHOT_DIR`` (when it is set)."""
    folder = os.environ.get("PAYDESK_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)
