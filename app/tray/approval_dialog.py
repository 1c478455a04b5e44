"""The approval popup: always on top, says exactly what will run, who asked, and until when.

Deny is the default button: Enter or Escape never approves by accident. On timeout the broker
denies, and the popup says so; if the owner answers on another device first, it closes.
"""

from __future__ import annotations

import html
import json
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.policy.approvals import ApprovalRequest
from app.tray.wording import asked_by, risk_name, tool_title


class ApprovalDialog(QDialog):
    """One pending approval."""

    decided = Signal(bool)  # the owner's answer here

    def __init__(
        self, request: ApprovalRequest, device_name: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.request = request
        self.outcome = ""
        self.setWindowTitle(self.tr("ORA needs your approval"))
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, True)
        layout = QVBoxLayout(self)
        # What, on what (whole: the resolved path, the URL), who asked from where, how risky.
        self.summary = QLabel(
            self.tr("<b>%1</b> (risk: %2)")
            .replace("%1", html.escape(tool_title(request.tool)))
            .replace("%2", html.escape(risk_name(request.risk.name)))
        )
        self.target = QLabel(request.target)
        self.target.setWordWrap(True)
        self.target.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.target.setStyleSheet("font-family: monospace; background: #fffbeb; padding: 4px;")
        self.target.setVisible(bool(request.target))
        self.target.setProperty("userContent", True)  # a path: the owner's words, not ORA's
        self.origin = QLabel(asked_by(request, device_name))
        self.origin.setWordWrap(True)
        shown = json.dumps(request.arguments, indent=2, ensure_ascii=False)
        if request.details:
            shown += "\n\n" + self._disclosure(request)
        self.arguments = QPlainTextEdit(shown)
        self.arguments.setReadOnly(True)
        self.arguments.setProperty("userContent", True)
        # The gate's own wording (English, for logs and the model) stays in the tooltip.
        self.reason = QLabel(
            self.tr("It runs only if you approve it here or on another of your devices.")
        )
        self.reason.setToolTip(request.reason)
        self.reason.setWordWrap(True)
        self.countdown = QLabel()
        buttons = QHBoxLayout()
        self.approve_button = QPushButton(self.tr("Approve"))
        self.deny_button = QPushButton(self.tr("Deny"))
        self.deny_button.setDefault(True)
        self.deny_button.setAutoDefault(True)
        self.approve_button.setAutoDefault(False)
        self.approve_button.clicked.connect(lambda: self._answer(True))
        self.deny_button.clicked.connect(lambda: self._answer(False))
        buttons.addWidget(self.deny_button)
        buttons.addWidget(self.approve_button)
        widgets = (
            self.summary,
            self.target,
            self.origin,
            self.arguments,
            self.reason,
            self.countdown,
        )
        for widget in widgets:
            layout.addWidget(widget)
        layout.addLayout(buttons)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.tick)
        self._timer.start(1000)
        self.tick()

    def _disclosure(self, request: ApprovalRequest) -> str:
        """The taint rule's disclosure in the tray's language: why ORA asks, where data would go,
        what, and the turn's private reads (all of it, shown whole)."""
        details = request.details
        sources = ", ".join(
            f"{tool_title(str(s.get('tool', '')))} {s.get('where', '')}".strip()
            for s in details.get("untrusted_sources", [])[:3]
        )
        lines = [
            self.tr(
                "'%1' could send data out, and untrusted content (%2) is in this conversation: "
                "it may be following instructions hidden there."
            )
            .replace("%1", tool_title(request.tool))  # first: a page's address may hold "%1"
            .replace("%2", sources),
            self.tr("Sends to: %1").replace("%1", str(details.get("sends_to", ""))),
        ]
        if details.get("body"):
            lines.append(self.tr("Data sent: %1").replace("%1", str(details["body"])))
        reads = details.get("private_reads", [])
        if reads:
            lines.append(self.tr("Private data read in this turn (it could be in what is sent):"))
            lines += [
                f"- {tool_title(str(r.get('tool', '')))} {r.get('what', '')}".rstrip()
                + f": {r.get('excerpt', '')}"
                for r in reads
            ]
        return "\n".join(lines)

    def _answer(self, approve: bool) -> None:
        self.outcome = "approved" if approve else "denied"
        self._timer.stop()
        self.decided.emit(approve)
        self.accept() if approve else self.reject()

    def reject(self) -> None:
        """Escape, the close button and Deny all deny."""
        if not self.outcome:
            self.outcome = "denied"
            self._timer.stop()
            self.decided.emit(False)
        super().reject()

    def tick(self) -> None:
        left = int(self.request.expires_at - time.time())
        if left > 0:
            self.countdown.setText(self.tr("Denied automatically in %1 s").replace("%1", str(left)))
        else:
            self.resolved_elsewhere("expired")

    def resolved_elsewhere(self, outcome: str) -> None:
        """The approval ended without this popup (another device, or the timeout): close."""
        if self.outcome:
            return
        self.outcome = outcome
        self._timer.stop()
        self.done(QDialog.DialogCode.Rejected)
