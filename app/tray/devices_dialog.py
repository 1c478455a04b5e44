"""Paired devices: name, role, last seen, and Revoke."""

from __future__ import annotations

import time
from dataclasses import dataclass

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
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(
            [self.tr("Name"), self.tr("Role"), self.tr("Last seen"), ""]
        )
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        self.show_devices(devices)

    def show_devices(self, devices: list[DeviceRow]) -> None:
        self.table.setRowCount(len(devices))
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
