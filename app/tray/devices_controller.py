"""The tray's Devices window: the paired devices, renamed and revoked by the owner at the PC."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from app.link.push_notice import devices_notified
from app.tray.devices_dialog import DeviceRow, DevicesDialog

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from app.tray.app import TrayApp


class DevicesController(QObject):
    """Opens the Devices window and carries the owner's changes to the core."""

    def __init__(self, host: TrayApp) -> None:
        super().__init__()
        self.host = host
        self.dialog: DevicesDialog | None = None

    def rows(self) -> list[DeviceRow]:
        link = self.host.link
        if link is None:
            return []
        online = link.online_devices()
        return [
            DeviceRow(d.device_id, d.name, d.role, d.last_seen, d.revoked, d.device_id in online)
            for d in link.devices()
        ]

    def open(self) -> DevicesDialog:
        dialog = DevicesDialog(self.rows())
        dialog.revoke.connect(lambda device_id: self.revoke(device_id, dialog))
        dialog.rename.connect(lambda device_id, name: self.rename(device_id, name, dialog))
        self.dialog = dialog  # a window without a parent lives as long as its reference
        dialog.show()
        self._ask_notified(dialog)
        return dialog

    def _ask_notified(self, dialog: DevicesDialog) -> None:
        """Which devices get notifications: the Relay keeps the subscriptions (not known: blank)."""
        link = self.host.link
        if link is not None:
            asked = devices_notified(link.relay_url, link.identity.node_token)
            self.host.bridge.call(asked, dialog.show_notified, lambda _err: None)

    def _refresh(self, dialog: DevicesDialog | None) -> None:
        if dialog is not None:
            dialog.show_devices(self.rows())
            self._ask_notified(dialog)

    def revoke(self, device_id: str, dialog: DevicesDialog | None = None) -> None:
        link = self.host.link
        if link is not None:
            self.host.bridge.call(link.revoke(device_id), lambda _r: self._refresh(dialog))

    def rename(self, device_id: str, name: str, dialog: DevicesDialog | None = None) -> None:
        link = self.host.link
        if link is not None:
            # On the core's loop, like every other write to the profile's database.
            self.host.bridge.call(link.rename(device_id, name), lambda _r: self._refresh(dialog))

    def close(self) -> None:
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None

    def windows(self) -> list[QWidget]:
        return [self.dialog] if self.dialog is not None else []
