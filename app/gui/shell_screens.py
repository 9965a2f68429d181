"""Screens of the application shell for ``python -m app.gui.screenshots``: the main window
on each area (with the sandbox data of the screenshot session), the main window at first
start (nothing set up yet) and the crash dialog.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from app.gui.screenshots import ScreenshotSession, register_screen


def _register_main_window_screens() -> None:
    from app.gui.main_window import AREAS

    def area_builder(key: str) -> Callable[[ScreenshotSession], QWidget]:
        def build(session: ScreenshotSession) -> QWidget:
            return session.main_window(area=key)

        return build

    register_screen("main-window", area_builder(AREAS[0].key))
    for spec in AREAS:
        register_screen(f"main-window-{spec.key.replace('_', '-')}", area_builder(spec.key))

    def first_start(session: ScreenshotSession) -> QWidget:
        return session.main_window(context=session.fresh_context())

    register_screen("main-window-first-start", first_start)

    def crash_dialog(session: ScreenshotSession) -> QWidget:
        from app.gui.errors import CrashDialog

        details = (
            "Traceback (most recent call last):\n"
            '  File "app/gui/example.py", line 12, in on_click\n'
            "ZeroDivisionError: division by zero\n"
        )
        dialog = CrashDialog(details, session.profile.logs_folder / "paydesk.log")
        dialog.details_button.setChecked(True)
        return dialog

    register_screen("crash-dialog", crash_dialog, size=(640, 460))


_register_main_window_screens()
