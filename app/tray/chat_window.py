"""The chat window on the PC: the same core, replies streamed, tool activity shown as it happens."""

from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtGui import QTextCharFormat
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)


class ChatWindow(QWidget):
    """Emits `send(text)`; the tray feeds events back with `show_*`."""

    send = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("ORA chat"))
        self.resize(460, 560)
        self.log = QTextBrowser()
        self.input = QLineEdit()
        self.input.setPlaceholderText(self.tr("Message ORA…"))
        self.button = QPushButton(self.tr("Send"))
        row = QHBoxLayout()
        row.addWidget(self.input)
        row.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.log)
        layout.addLayout(row)
        self.button.clicked.connect(self._submit)
        self.input.returnPressed.connect(self._submit)
        self._reply = ""
        self._reply_open = False

    def _submit(self) -> None:
        text = self.input.text().strip()
        if not text:
            return
        self.input.clear()
        you = self.tr("You")
        self.log.append(f"<p><b>{html.escape(you)}:</b> {html.escape(text)}</p>")
        self._reply = ""
        self._reply_open = False
        self.send.emit(text)

    def show_delta(self, text: str) -> None:
        """Append a piece of the streamed reply; tool lines before it stay above it."""
        if not self._reply_open:
            self.log.append("<p><b>ORA:</b> </p>")
            self._reply_open = True
        self._reply += text
        cursor = self.log.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        cursor.insertText(text, QTextCharFormat())
        self.log.setTextCursor(cursor)

    def show_tool(self, tool: str, status: str) -> None:
        self.log.append(
            f"<p style='color:#666'><i>⚙ {html.escape(tool)}: {html.escape(status)}</i></p>"
        )
        self._reply_open = False

    def show_done(self, text: str) -> None:
        if not self._reply and text:
            self.show_delta(text)

    @property
    def transcript(self) -> str:
        return self.log.toPlainText()
