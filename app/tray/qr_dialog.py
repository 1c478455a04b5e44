"""The pairing dialog: a QR code to scan, a countdown, a new code, or a code to type instead."""

from __future__ import annotations

import io
import time

import qrcode
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QPushButton, QVBoxLayout, QWidget


def qr_pixmap(url: str, box_size: int = 8) -> QPixmap:
    """The URL as a QR code image."""
    image = qrcode.make(url, box_size=box_size, border=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap


class PairingDialog(QDialog):
    """Shows one pairing invitation until it expires; asks for another on request."""

    new_code_requested = Signal()
    typed_code_requested = Signal()

    def __init__(
        self, url: str, expires_at: float, role: str = "owner", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Pair a device"))
        self.url = url
        self.expires_at = expires_at
        self.role = role
        layout = QVBoxLayout(self)
        heading = (
            self.tr("Scan with your phone's camera")
            if role == "owner"
            else self.tr("Let your friend scan this (guest access)")
        )
        self.heading = QLabel(heading)
        self.heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr = QLabel()
        self.qr.setPixmap(qr_pixmap(url))
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.countdown = QLabel()
        self.countdown.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.new_code = QPushButton(self.tr("New code"))
        self.new_code.clicked.connect(self.new_code_requested.emit)
        self.type_code = QPushButton(self.tr("No camera? Show a code to type"))
        self.type_code.clicked.connect(self.typed_code_requested.emit)
        self.code = QLabel()
        self.code.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.code.hide()
        self.network = QLabel()  # which network the code is offered on (home-network mode)
        self.network.setWordWrap(True)
        self.network.hide()
        for widget in (
            self.heading,
            self.qr,
            self.countdown,
            self.network,
            self.new_code,
            self.type_code,
            self.code,
        ):
            layout.addWidget(widget)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.tick)
        self._timer.start(1000)
        self.tick()

    def show_network(self, note: str) -> None:
        """Say which network the phone must be on, and that the connection is plain http."""
        self.network.setText(note)
        self.network.show()

    def show_invitation(self, url: str, expires_at: float) -> None:
        """Replace the code (after "New code")."""
        self.url, self.expires_at = url, expires_at
        self.qr.setPixmap(qr_pixmap(url))
        self.qr.setEnabled(True)
        self._timer.start(1000)
        self.tick()

    def show_typed_code(self, code: str) -> None:
        """A one-time code to type on the other device, in place of the QR code."""
        self.code.setText(
            self.tr("On the other device, open the ORA page and type:")
            + f"<br><b style='font-size:20pt;font-family:monospace'>{code}</b>"
        )
        self.code.show()

    def tick(self) -> None:
        """Update the countdown; an expired code is greyed out and cannot be scanned."""
        left = int(self.expires_at - time.time())
        if left > 0:
            self.countdown.setText(
                self.tr("Valid for %1:%2 — works once")
                .replace("%1", str(left // 60))
                .replace("%2", f"{left % 60:02d}")
            )
            return
        self._timer.stop()
        self.qr.clear()
        self.qr.setText(self.tr("This code has expired."))
        self.qr.setEnabled(False)
        self.countdown.setText(self.tr("Press New code to pair."))
