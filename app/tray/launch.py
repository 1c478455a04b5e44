"""Start the tray app: the icon first, the core behind it.

Importing the core (aiohttp, SQLite, the tools) takes most of a second or more on a slow PC,
so the icon is shown from Qt alone, the core's modules are imported on a worker thread while
Qt keeps the icon alive, and the menu is attached once the core is open.
"""

from __future__ import annotations

import importlib
import logging
import signal
import sys
import threading
from typing import Any

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon

from app.errors import OraError
from app.profile_lock import ProfileLock
from app.settings import Settings
from app.tray import i18n
from app.tray.icons import state_icon

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

    def load_core() -> None:
        importlib.import_module("app.tray.app")
        loaded.set()

    threading.Thread(target=load_core, name="ora-import", daemon=True).start()
    held: dict[str, Any] = {}

    def build() -> None:
        if not loaded.is_set():
            QTimer.singleShot(20, build)
            return
        from app.tray.app import TrayApp

        try:
            tray = TrayApp(settings, tray_icon=icon, profile_lock=lock)
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

    QTimer.singleShot(0, build)
    _quit_on_signals(app)
    try:
        return app.exec()
    finally:
        tray = held.get("tray")
        if tray is not None and tray.bridge.loop.is_running():
            tray.shutdown()


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
