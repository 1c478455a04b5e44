"""Start the tray app: the icon first, the core behind it.

Importing the core (aiohttp, SQLite, the tools) takes most of a second or more on a slow PC,
so the icon is shown from Qt alone; then the core's modules are imported and the core opened
on its loop thread (app/tray/core_start.py), serving the local server at once; the tray's own
windows are imported after that, and the menu is attached last. A chat sent the moment the
icon shows waits for the core only, not for the menu.
"""

from __future__ import annotations

import importlib
import logging
import signal
import sys
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from app.errors import OraError
from app.profile_lock import ProfileLock
from app.settings import Settings
from app.tray import i18n
from app.tray.icons import state_icon

if TYPE_CHECKING:
    from app.tray.bridge import CoreBridge
    from app.tray.core_start import OpenedCore

_LOGGER = logging.getLogger(__name__)


def main(settings: Settings, lock: ProfileLock | None = None) -> int:
    """Run the tray app until Quit; `lock` is the profile's (one Node per profile, cli.py)."""
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    i18n.install(app, i18n.saved_language(settings.state_dir) or settings.locale)
    icon = QSystemTrayIcon(state_icon("connecting"))
    icon.setToolTip(QCoreApplication.translate("TrayLaunch", "ORA — starting…"))
    has_tray = QSystemTrayIcon.isSystemTrayAvailable()
    if has_tray:
        icon.show()
        # Logged once the event loop runs: what bench/tray_start.py times.
        QTimer.singleShot(0, lambda: _LOGGER.info("tray icon shown"))
    loaded = threading.Event()
    held: dict[str, Any] = {}

    def load_ui(_opened: object) -> None:
        # After the core is open, so the menu's imports never hold up the first answer.
        def run() -> None:
            importlib.import_module("app.tray.app")
            loaded.set()

        threading.Thread(target=run, name="ora-import", daemon=True).start()

    def start_core() -> None:
        from app.tray.bridge import CoreBridge
        from app.tray.core_start import open_core

        bridge = CoreBridge()
        opened = bridge.submit(open_core(settings))
        held["core"] = (bridge, opened)
        opened.add_done_callback(load_ui)

    def build() -> None:
        if not loaded.is_set():
            QTimer.singleShot(20, build)
            return
        from app.tray.app import TrayApp

        bridge, opened = held.pop("core")
        try:
            tray = TrayApp(
                settings, tray_icon=icon, profile_lock=lock, core=(bridge, opened.result())
            )
        except OraError as err:
            QMessageBox.critical(None, "ORA", str(err))
            app.exit(2)
            return
        held["tray"] = tray
        _LOGGER.info("tray ready")
        # A first run on this PC: offer to bring the profile back from an encrypted backup.
        tray.backup_ui.offer_first_run()
        if not has_tray:
            # No tray on this desktop: the chat window is the way in.
            tray.open_chat()

    # After the icon's own timer: the core opens on its loop thread while Qt paints the icon.
    QTimer.singleShot(0, start_core)
    QTimer.singleShot(0, build)
    _quit_on_signals(app)
    try:
        return app.exec()
    finally:
        tray = held.get("tray")
        if tray is not None and tray.bridge.loop.is_running():
            tray.shutdown()
        elif "core" in held:  # quit before the menu was built: close what is already open
            _close_early(*held["core"])


def _close_early(bridge: CoreBridge, opened: Future[OpenedCore]) -> None:
    if opened.done() and opened.exception() is None:
        core = opened.result()
        if core.local is not None:
            bridge.submit(core.local.stop()).result(10)
        bridge.submit(core.runtime.close()).result(10)
    bridge.stop()


def _quit_on_signals(app: QApplication) -> None:
    """Ctrl+C in the terminal (or a TERM from `make run`) quits cleanly, exit code 0.

    Python runs signal handlers only between its own bytecodes, and Qt's loop is C++: a
    timer hands control to Python a few times a second so the handler runs promptly.
    """

    def stop(_sig: int, _frame: object) -> None:
        _LOGGER.info("stopping on a signal")
        app.quit()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    ticker = QTimer(app)
    ticker.timeout.connect(lambda: None)
    ticker.start(200)
