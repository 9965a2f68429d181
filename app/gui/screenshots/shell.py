"""Screens of the application shell for ``python -m app.gui.screenshots``: the main window
on each area (with the sandbox data of the screenshot session), the main window at first
start (nothing set up yet), the crash dialog, About PayDesk and the update check's answer.
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
        # As a person first sees it: what happened and what to do; the details folded away.
        return CrashDialog(details, session.profile.logs_folder / "paydesk.log")

    register_screen("crash-dialog", crash_dialog, size=(640, 330))

    def about_dialog(session: ScreenshotSession) -> QWidget:
        from app.gui.about import AboutDialog

        return AboutDialog(session.context)

    register_screen("about-dialog", about_dialog, size=(840, 640))

    def update_available(session: ScreenshotSession) -> QWidget:
        from app.core.updates import UpdateCheck, UpdateStatus
        from app.gui.about import UpdateCheckRunner

        # The answer a bookkeeper sees when a newer version is published (no network here).
        parent = session.keep(QWidget())
        runner = UpdateCheckRunner(parent)
        runner._on_result(UpdateCheck(
            UpdateStatus.NEWER, "0.1.0", "0.2.0",
            "https://github.com/example/paydesk/releases/tag/v0.2.0",
            "PayDesk 0.2.0 is available",
            "You have PayDesk 0.1.0. Download the new version from its page and install it "
            "over this one: your profile, settings and database are kept. PayDesk does not "
            "download or install anything by itself.\n\nDownload page: "
            "https://github.com/example/paydesk/releases/tag/v0.2.0",
        ))
        assert runner.box is not None
        return runner.box

    register_screen("update-available", update_available, size=(520, 220))


_register_main_window_screens()
