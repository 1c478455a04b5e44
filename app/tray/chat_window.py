"""The chat window on the PC: the same core, replies streamed, tool activity shown as it happens."""

from __future__ import annotations

import html

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QTextCharFormat, QTextDocumentFragment
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.core.events import ApprovalPending, ToolFinished, ToolStarted
from app.tray.wording import tool_state, tool_title


class ChatWindow(QWidget):
    """Emits `send(text)` and `cancel()`; the tray feeds events back with `show_*`."""

    send = Signal(str)
    cancel = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("ORA chat"))
        self.resize(460, 560)
        self.log = QTextBrowser()
        # A started tool is said to be running only if, a moment later, it is not waiting for
        # approval nor already finished: the core says "started" before the gate decides.
        self._starting: ToolStarted | None = None
        self._running_later = QTimer(self)
        self._running_later.setSingleShot(True)
        self._running_later.setInterval(400)
        self._running_later.timeout.connect(self._say_running)
        self.input = QLineEdit()
        self.input.setPlaceholderText(self.tr("Message ORA…"))
        self.button = QPushButton(self.tr("Send"))
        self.stop = QPushButton(self.tr("Stop"))
        self.stop.setEnabled(False)
        self.plan_view = QLabel()
        self.plan_view.setWordWrap(True)
        self.plan_view.hide()
        # "Thinking…" from the moment a message is sent until the first word (or the end).
        self.thinking = QLabel(self.tr("Thinking…"))
        self.thinking.setStyleSheet("color:#666; font-style:italic")
        self.thinking.hide()
        row = QHBoxLayout()
        row.addWidget(self.input)
        row.addWidget(self.button)
        row.addWidget(self.stop)
        layout = QVBoxLayout(self)
        layout.addWidget(self.log)
        layout.addWidget(self.plan_view)
        layout.addWidget(self.thinking)
        layout.addLayout(row)
        self.stop.clicked.connect(self._stop)
        self.button.clicked.connect(self._submit)
        self.input.returnPressed.connect(self._submit)
        self._reply = ""
        self._reply_open = False
        self._segment, self._segment_start = "", 0  # the reply since its last tool line

    def _submit(self) -> None:
        text = self.input.text().strip()
        if not text:
            return
        self.input.clear()
        you = self.tr("You")
        self.log.append(f"<p><b>{html.escape(you)}:</b> {html.escape(text)}</p>")
        self._reply = ""
        self._reply_open = False
        self.plan_view.hide()
        self.stop.setEnabled(True)
        self.thinking.show()
        self.send.emit(text)

    def show_delta(self, text: str) -> None:
        """Append a piece of the streamed reply; tool lines before it stay above it."""
        self.thinking.hide()
        cursor = self.log.textCursor()
        if not self._reply_open:
            self.log.append("<p><b>ORA:</b> </p>")
            self._reply_open = True
            cursor.movePosition(cursor.MoveOperation.End)
            self._segment, self._segment_start = "", cursor.position()
        self._reply += text
        self._segment += text
        cursor.movePosition(cursor.MoveOperation.End)
        cursor.insertText(text, QTextCharFormat())
        self.log.setTextCursor(cursor)

    def _close_reply(self) -> None:
        """The streamed text, once whole, is shown with its markdown rendered, not as marks."""
        if self._reply_open and self._segment:
            cursor = self.log.textCursor()
            cursor.setPosition(self._segment_start)
            cursor.movePosition(cursor.MoveOperation.End, cursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
            cursor.insertFragment(QTextDocumentFragment.fromMarkdown(self._segment))
        self._segment = ""
        self._reply_open = False

    def show_tool_event(self, event: ToolStarted | ToolFinished | ApprovalPending) -> None:
        """A tool's state in words: running, waiting for approval, done, failed, not run."""
        if isinstance(event, ToolStarted):
            self._say_running()  # an earlier call still unsaid
            self._starting = event
            self._running_later.start()
            return
        self._starting = None
        self._running_later.stop()
        if isinstance(event, ApprovalPending):
            self.show_tool(tool_title(event.request.tool), tool_state("waiting"))
        else:
            self.show_tool(tool_title(event.tool), tool_state(event.outcome))

    def _say_running(self) -> None:
        started, self._starting = self._starting, None
        if started is not None:
            self.show_tool(tool_title(started.tool), tool_state("started"))

    def show_tool(self, tool: str, status: str) -> None:
        self._close_reply()
        self.log.append(
            f"<p style='color:#666'><i>⚙ {html.escape(tool)}: {html.escape(status)}</i></p>"
        )
        self._reply_open = False

    def show_done(self, text: str) -> None:
        self.thinking.hide()
        if not self._reply and text:
            self.show_delta(text)
        self._close_reply()
        self.stop.setEnabled(False)

    def _stop(self) -> None:
        self.stop.setEnabled(False)
        self.cancel.emit()

    def show_plan(self, steps: list[tuple[str, str, str]], current: int, revision: int) -> None:
        """The plan as it runs: "Step n of m", then each step (text, tool, status) marked."""
        marks = {
            "pending": self.tr("to do"),
            "running": self.tr("running"),
            "done": self.tr("done"),
            "failed": self.tr("failed"),
            "skipped": self.tr("skipped"),
            "cancelled": self.tr("cancelled"),
        }
        head = (
            self.tr("Step %1 of %2")
            .replace("%1", str(max(current, 1)))
            .replace("%2", str(len(steps)))
        )
        if revision:
            head += " · " + self.tr("plan revised")
        lines = [f"<b>{html.escape(head)}</b>"]
        for i, (text, tool, status) in enumerate(steps, 1):
            label = html.escape(f"{i}. {text}" + (f" ({tool_title(tool)})" if tool else ""))
            lines.append(f"{label} — <i>{html.escape(marks.get(status, status))}</i>")
        self.plan_view.setText("<br>".join(lines))
        self.plan_view.show()

    def show_cancelled(self) -> None:
        """The turn was stopped at the user's request."""
        self.thinking.hide()
        self._close_reply()
        self.log.append(f"<p style='color:#666'><i>{html.escape(self.tr('Stopped.'))}</i></p>")
        self._reply_open = False
        self.stop.setEnabled(False)

    @property
    def transcript(self) -> str:
        return self.log.toPlainText()
