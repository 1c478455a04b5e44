"""The tray's pairing: the QR dialog (owner or guest), a new code, a typed code, and the
owner's comparison of codes for typed-code pairing. Qt side only; the link does the work."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox

from app.errors import PairingRefused
from app.tray.qr_dialog import PairingDialog

if TYPE_CHECKING:
    from app.tray.app import TrayApp

PAIRING_TTL_S = 300


class PairingController(QObject):
    """Opens pairings on the link and shows them; asks the owner to compare typed codes."""

    confirm_requested = Signal(str, str, str, object)  # code, device name, role, answer(bool)

    def __init__(self, host: TrayApp) -> None:
        super().__init__()
        self.host = host
        self.dialog: PairingDialog | None = None
        self.confirm_box: QMessageBox | None = None
        self.confirm_requested.connect(self._ask_confirmation)

    async def confirm(self, code: str, name: str, role: str) -> bool:
        """Typed-code pairing: the owner compares the code on both screens (core loop side)."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bool] = loop.create_future()

        def reply(ok: bool) -> None:
            loop.call_soon_threadsafe(_settle, answer, ok)

        self.confirm_requested.emit(code, name, role, reply)
        return await answer

    def _ask_confirmation(
        self, code: str, name: str, role: str, reply: Callable[[bool], None]
    ) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            self.tr("Pair a device"),
            self.tr("'%1' wants to pair as %2.\nDoes its screen show this code?\n\n%3")
            .replace("%1", name)
            .replace("%2", role)
            .replace("%3", code),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        )
        # Refusing is the safe answer, so it is what Enter does.
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint)
        box.finished.connect(lambda result: reply(result == QMessageBox.StandardButton.Yes.value))
        self.confirm_box = box
        box.open()

    def _unreachable(self, error: BaseException) -> None:
        if isinstance(error, PairingRefused):  # a guest on the private profile
            self.host.tell(
                QMessageBox.Icon.Warning,
                self.tr(
                    "This is your private profile: only your own devices can pair with it. "
                    "Share ORA with friends from the shared profile."
                ),
            )
            return
        self.host.tell(
            QMessageBox.Icon.Warning, self.tr("Cannot pair now: the Relay is not reachable.")
        )

    def open(self, role: str) -> None:
        """Show a fresh QR code for `role` (owner, or guest for a friend)."""
        link = self.host.link
        if link is None:
            return

        def shown(result: tuple[Any, str]) -> None:
            url = str(result[1])
            expires = time.time() + PAIRING_TTL_S
            if self.dialog is not None and self.dialog.role != role:
                self.dialog.close()
                self.dialog = None
            if self.dialog is None:
                self.dialog = PairingDialog(url, expires, role)
                if note := self.host.network_note():
                    self.dialog.show_network(note)
                self.dialog.new_code_requested.connect(lambda: self.open(role))
                self.dialog.typed_code_requested.connect(lambda: self._typed_code(role))
            else:
                self.dialog.show_invitation(url, expires)
            self.dialog.show()
            self.dialog.raise_()

        self.host.bridge.call(
            link.open_pairing(role=role, ttl_s=PAIRING_TTL_S), shown, self._unreachable
        )

    def _typed_code(self, role: str) -> None:
        link = self.host.link
        if link is None:
            return

        def shown(code: str) -> None:
            if self.dialog is not None:
                self.dialog.show_typed_code(str(code))

        self.host.bridge.call(
            link.open_code_pairing(role=role, ttl_s=PAIRING_TTL_S), shown, self._unreachable
        )

    def close(self) -> None:
        """Close the dialog (a language switch reopens it in the new language)."""
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None

    def windows(self) -> list[Any]:
        return [w for w in (self.dialog, self.confirm_box) if w is not None]


def _settle(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)
