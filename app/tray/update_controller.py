"""The tray's updates: periodic checks, "Check for updates", the offer, download with progress,
install and restart. Qt side only; the work is UpdateService's, run off the UI thread."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QProgressDialog

from app.update.errors import UpdateError, UpdateRefused
from app.update.schedule import check_periodically
from app.update.service import Available, UpdateService
from app.version import __version__

if TYPE_CHECKING:
    from app.tray.app import TrayApp


class UpdateController(QObject):
    """Owns the update service and the windows it shows."""

    update_found = Signal(object)  # Available, from the periodic check
    update_progress = Signal(int, int)  # bytes done, bytes expected (download thread)

    def __init__(self, host: TrayApp) -> None:
        super().__init__()
        self.host = host
        self.service = UpdateService(host.settings.updates, __version__)
        self.available: Available | None = None
        self.box: QMessageBox | None = None
        self.dialog: QProgressDialog | None = None
        self.percent = 0
        self._checks: Future[Any] | None = None
        self.update_found.connect(self.on_update_found)

    def start_checks(self) -> None:
        """Check at start and then periodically; a no-op coroutine when updates are off."""
        self._checks = self.host.bridge.submit(
            check_periodically(
                self.service,
                self.update_found.emit,
                interval_s=self.host.settings.updates.check_interval_h * 3600,
                first_delay_s=10,
            )
        )

    def stop_checks(self) -> None:
        if self._checks is not None:
            self._checks.cancel()

    def check_now(self) -> None:
        """The menu's "Check for updates": ask now, then offer what was found."""
        tell = self.host.tell
        if not self.service.enabled:
            tell(
                QMessageBox.Icon.Information,
                self.tr(
                    "Updates are turned off. Set [updates] url in config.toml to turn them on."
                ),
            )
            return

        def checked(result: Available | None) -> None:
            if result is None:
                tell(
                    QMessageBox.Icon.Information,
                    self.tr("ORA is up to date (%1).").replace("%1", __version__),
                )
                return
            self.on_update_found(result)
            self.offer()

        def failed(error: BaseException) -> None:
            if isinstance(error, UpdateRefused):
                tell(
                    QMessageBox.Icon.Critical,
                    self.tr("The update was refused: %1").replace("%1", str(error)),
                )
            else:
                tell(
                    QMessageBox.Icon.Warning,
                    self.tr("Could not check for updates: %1").replace("%1", str(error)),
                )

        self.host.bridge.call(asyncio.to_thread(self.service.check), checked, failed)

    def on_update_found(self, available: Available) -> None:
        if self.host.closed:
            return
        first = self.available is None
        self.available = available
        action = self.host.actions["updates"]
        action.setText(self.tr("Update available: ORA %1").replace("%1", available.version))
        if first:
            self.host.tray.showMessage(
                "ORA", self.tr("Update available: ORA %1").replace("%1", available.version)
            )
        action.triggered.disconnect()
        action.triggered.connect(self.offer)

    def offer(self) -> None:
        """Ask, then download with visible progress, verify, install beside this version, restart."""
        available = self.available
        if available is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "ORA",
            self.tr("Update available: ORA %1").replace("%1", available.version),
        )
        install = box.addButton(self.tr("Install and restart"), QMessageBox.ButtonRole.AcceptRole)
        box.addButton(self.tr("Later"), QMessageBox.ButtonRole.RejectRole)
        box.buttonClicked.connect(
            lambda button: self._install(available) if button is install else None
        )
        self.box = box
        box.open()

    def _install(self, available: Available) -> None:
        tell = self.host.tell
        progress = QProgressDialog(
            self.tr("Downloading ORA %1…").replace("%1", available.version), "", 0, 100
        )
        progress.setCancelButton(None)  # tufup cannot stop a download half-way
        progress.setMinimumDuration(0)
        progress.setValue(0)
        self.dialog = progress
        self.percent = 0

        def show(done: int, total: int) -> None:
            self.percent = max(self.percent, int(100 * done / total) if total else 0)
            progress.setValue(self.percent)

        self.update_progress.connect(show)

        def finished() -> None:
            progress.close()
            self.update_progress.disconnect(show)

        def downloaded(_staged: object) -> None:
            finished()
            try:
                self.service.apply_and_restart()
            except UpdateError as err:
                tell(
                    QMessageBox.Icon.Critical,
                    self.tr("The update was refused: %1").replace("%1", str(err)),
                )
                return
            self.host.quit()

        def failed(error: BaseException) -> None:
            finished()
            text = (
                self.tr("The update was refused: %1")
                if isinstance(error, UpdateRefused)
                else self.tr("Could not download the update: %1")
            )
            tell(QMessageBox.Icon.Critical, text.replace("%1", str(error)))

        self.host.bridge.call(
            asyncio.to_thread(self.service.download, self.update_progress.emit),
            downloaded,
            failed,
        )

    def windows(self) -> list[Any]:
        """What shutdown must delete while the QApplication still exists."""
        return [w for w in (self.box, self.dialog) if w is not None]
