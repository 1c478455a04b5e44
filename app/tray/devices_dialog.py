"""Paired devices: name (renamed in place), role, last seen or "online now", Revoke, and
whether it gets notifications."""

from __future__ import annotations

import time
from dataclasses import dataclass

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
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
    online: bool = False  # has a session with this Node right now


class DevicesDialog(QDialog):
    """Emits `revoke(device_id)` and `rename(device_id, name)` for the owner's changes."""

    revoke = Signal(str)
    rename = Signal(str, str)

    def __init__(self, devices: list[DeviceRow], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Devices"))
        self.resize(640, 300)
        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(
            [
                self.tr("Name"),
                self.tr("Role"),
                self.tr("Last seen"),
                "",
                self.tr("Notifications"),
                "",
            ]
        )
        # Only the name is edited, and only by double-click or Rename (never by typing over).
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked)
        self.table.itemChanged.connect(self._name_edited)
        self._names: list[str] = []
        self._ids: list[str] = []
        self._notified: set[str] | None = None  # None: not known (the Relay not asked yet)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        self.show_devices(devices)

    def show_devices(self, devices: list[DeviceRow]) -> None:
        self.table.blockSignals(True)  # filling the table is not the owner renaming
        self.table.setRowCount(len(devices))
        self._ids = [d.device_id for d in devices]
        self._names = [d.name for d in devices]
        roles = {"owner": self.tr("owner"), "guest": self.tr("guest")}
        for row, d in enumerate(devices):
            name = QTableWidgetItem(d.name)
            if d.revoked:
                name.setFlags(name.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(row, 0, name)
            role = self.tr("revoked") if d.revoked else roles.get(d.role, d.role)
            self.table.setItem(row, 1, self._fixed(role))
            seen = (
                self.tr("online now")
                if d.online and not d.revoked
                else time.strftime("%Y-%m-%d %H:%M", time.localtime(d.last_seen))
            )
            self.table.setItem(row, 2, self._fixed(seen))
            rename = QPushButton(self.tr("Rename"))
            rename.setEnabled(not d.revoked)
            rename.clicked.connect(lambda _=False, item=name: self.table.editItem(item))
            self.table.setCellWidget(row, 5, rename)
            button = QPushButton(self.tr("Revoke"))
            button.setEnabled(not d.revoked)
            button.clicked.connect(
                lambda _=False, device_id=d.device_id: self.revoke.emit(device_id)
            )
            self.table.setCellWidget(row, 3, button)
        self._show_notified()
        self.table.blockSignals(False)

    @staticmethod
    def _fixed(text: str) -> QTableWidgetItem:
        item = QTableWidgetItem(text)
        item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
        return item

    def _name_edited(self, item: QTableWidgetItem) -> None:
        row = item.row()
        if item.column() != 0 or row >= len(self._ids):
            return
        name = " ".join(item.text().split())
        if not name or name == self._names[row]:
            self.table.blockSignals(True)
            item.setText(self._names[row])  # an empty name is not a name: keep the old one
            self.table.blockSignals(False)
            return
        self._names[row] = name
        self.rename.emit(self._ids[row], name)

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
            self.table.setItem(row, 4, self._fixed(text))
