"""Paired devices: name, role, last seen, Revoke, and whether it gets notifications."""

from __future__ import annotations

import time
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class DeviceRow:
    """What the dialog shows of a device."""

    device_id: str
    name: str
    role: str
    last_seen: float
    revoked: bool


class DevicesDialog(QDialog):
    """Emits `revoke(device_id)` when the owner revokes a device."""

    revoke = Signal(str)

    def __init__(self, devices: list[DeviceRow], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Devices"))
        self.resize(520, 300)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(
            [self.tr("Name"), self.tr("Role"), self.tr("Last seen"), "", self.tr("Notifications")]
        )
        self._ids: list[str] = []
        self._notified: set[str] | None = None  # None: not known (the Relay not asked yet)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        self.show_devices(devices)

    def show_devices(self, devices: list[DeviceRow]) -> None:
        self.table.setRowCount(len(devices))
        self._ids = [d.device_id for d in devices]
        for row, d in enumerate(devices):
            self.table.setItem(row, 0, QTableWidgetItem(d.name))
            self.table.setItem(
                row, 1, QTableWidgetItem(self.tr("revoked") if d.revoked else d.role)
            )
            seen = time.strftime("%Y-%m-%d %H:%M", time.localtime(d.last_seen))
            self.table.setItem(row, 2, QTableWidgetItem(seen))
            button = QPushButton(self.tr("Revoke"))
            button.setEnabled(not d.revoked)
            button.clicked.connect(
                lambda _=False, device_id=d.device_id: self.revoke.emit(device_id)
            )
            self.table.setCellWidget(row, 3, button)
        self._show_notified()

    def show_notified(self, device_ids: set[str]) -> None:
        """Which devices get notifications on their phone (the Relay's answer)."""
        if not shiboken6.isValid(self):
            return  # the answer came after the dialog closed
        self._notified = set(device_ids)
        self._show_notified()

    def _show_notified(self) -> None:
        for row, device_id in enumerate(self._ids):
            if self._notified is None:
                text = ""
            else:
                text = self.tr("on") if device_id in self._notified else self.tr("off")
            self.table.setItem(row, 4, QTableWidgetItem(text))
