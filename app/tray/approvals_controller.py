"""The tray's approval popups: one per waiting approval, answered here or elsewhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QSystemTrayIcon

from app.link.devices import DeviceRegistry
from app.policy.approvals import ApprovalRequest
from app.tray.approval_dialog import ApprovalDialog
from app.tray.icons import state_icon
from app.tray.wording import risk_name, tool_title

if TYPE_CHECKING:
    from app.tray.app import TrayApp


class ApprovalsController(QObject):
    """Shows a popup per approval request from the core and sends back the owner's answer."""

    def __init__(self, host: TrayApp) -> None:
        super().__init__()
        self.host = host
        self.popups: dict[str, ApprovalDialog] = {}
        self._retired: list[ApprovalDialog] = []

    def on_requested(self, request: ApprovalRequest) -> None:
        host = self.host
        if host.closed:
            return
        # The asking device by the name it was paired (or renamed) with, never an id prefix.
        registry = host.link.registry if host.link is not None else DeviceRegistry(host.runtime.db)
        device = registry.get(request.channel)
        name = device.name if device is not None else ""
        popup = ApprovalDialog(request, device_name=name)
        popup.decided.connect(
            lambda approve, r=request: host.bridge.answer(host.runtime.broker, r, approve)
        )
        popup.finished.connect(lambda _=0, a=request.approval_id: self._closed(a))
        self.popups[request.approval_id] = popup
        popup.show()
        popup.raise_()
        popup.activateWindow()
        host.tray.showMessage(
            self.tr("ORA needs your approval"),
            f"{tool_title(request.tool)} ({risk_name(request.risk.name)})\n{request.target}".strip(),
            QSystemTrayIcon.MessageIcon.Warning,
            10_000,
        )
        host.refresh_icon()

    def on_resolved(self, approval_id: str, outcome: str) -> None:
        popup = self.popups.get(approval_id)
        if popup is not None:
            popup.resolved_elsewhere(outcome)

    def _closed(self, approval_id: str) -> None:
        # Dropped on the next turn of the event loop: deleting a dialog inside its own
        # `finished` signal crashes Qt.
        popup = self.popups.pop(approval_id, None)
        if popup is not None:
            popup.deleteLater()
            self._retired.append(popup)
            QTimer.singleShot(0, lambda: self._retired.remove(popup))
        self.host.refresh_icon()

    def show_pending(self) -> None:
        if not self.popups:
            self.host.tray.showMessage(
                "ORA",
                self.tr("Nothing is waiting for your approval."),
                state_icon(self.host.status),
            )
        for popup in self.popups.values():
            popup.show()
            popup.raise_()

    def deny_all(self) -> None:
        """The core is closing: every popup shows the denial."""
        for popup in list(self.popups.values()):
            popup.resolved_elsewhere("denied")
