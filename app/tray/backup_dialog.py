"""Backup's windows: the recovery phrase shown once (with a QR code to print) and the check that
it was written down, and the restore screen (service + phrase). Plain data in, signals out."""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QFont, QPagedPaintDevice, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.tray.qr_dialog import qr_pixmap


def _wrapped(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


class PhraseDialog(QDialog):
    """Turning backup on: the 12 words, then three of them typed back. Nothing is kept or sent
    until `confirmed` is answered with True by the controller."""

    confirmed = Signal(object, bool)  # {word number: typed}, include API keys

    def __init__(self, phrase: str, asked: list[int], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Turn on backup"))
        self.words = phrase.split()
        self.asked = asked
        self.pages = QStackedWidget()
        self.pages.addWidget(self._show_page(phrase))
        self.pages.addWidget(self._check_page())
        QVBoxLayout(self).addWidget(self.pages)

    def _show_page(self, phrase: str) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(
            _wrapped(
                self.tr(
                    "<b>Your recovery phrase.</b> Write these 12 words down (or print them) and "
                    "keep them safe. They are the only way to read your backup, on this PC or a "
                    "new one: ORA cannot show them again, and nobody can recover them for you."
                )
            )
        )
        grid = QGridLayout()
        self.word_labels: list[QLabel] = []
        for n, word in enumerate(self.words):
            label = QLabel(f"{n + 1:2}. <b>{word}</b>")
            label.setFont(QFont("monospace", 12))
            grid.addWidget(label, n % 6, n // 6)
            self.word_labels.append(label)
        row = QHBoxLayout()
        row.addLayout(grid)
        self.qr = QLabel()
        self.qr.setPixmap(qr_pixmap(phrase, box_size=4))
        row.addWidget(self.qr)
        layout.addLayout(row)
        self.include_keys = QCheckBox(self.tr("Include my API keys in the backup"))
        layout.addWidget(self.include_keys)
        layout.addWidget(
            _wrapped(self.tr("Nothing leaves this PC until you confirm on the next page."))
        )
        buttons = QHBoxLayout()
        self.print_button = QPushButton(self.tr("Print…"))
        self.print_button.clicked.connect(self._print)
        self.next_button = QPushButton(self.tr("I wrote it down"))
        self.next_button.clicked.connect(lambda: self.pages.setCurrentIndex(1))
        buttons.addWidget(self.print_button)
        buttons.addStretch()
        buttons.addWidget(self.next_button)
        layout.addLayout(buttons)
        return page

    def _check_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(
            _wrapped(self.tr("To be sure you have it, type these words from your phrase."))
        )
        form = QFormLayout()
        self.inputs: dict[int, QLineEdit] = {}
        for n in self.asked:
            edit = QLineEdit()
            edit.returnPressed.connect(self._submit)
            form.addRow(self.tr("Word %1").replace("%1", str(n)), edit)
            self.inputs[n] = edit
        layout.addLayout(form)
        self.message = _wrapped("")
        self.message.setStyleSheet("color:#b91c1c")
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        self.back_button = QPushButton(self.tr("Show the phrase again"))
        self.back_button.clicked.connect(lambda: self.pages.setCurrentIndex(0))
        self.confirm_button = QPushButton(self.tr("Turn on backup"))
        self.confirm_button.clicked.connect(self._submit)
        buttons.addWidget(self.back_button)
        buttons.addStretch()
        buttons.addWidget(self.confirm_button)
        layout.addLayout(buttons)
        return page

    def _submit(self) -> None:
        typed = {n: edit.text() for n, edit in self.inputs.items()}
        if all(t.strip() for t in typed.values()):
            self.confirm_button.setEnabled(False)
            self.confirmed.emit(typed, self.include_keys.isChecked())

    def show_mismatch(self) -> None:
        """The typed words are not the phrase's: say so; backup stays off."""
        self.confirm_button.setEnabled(True)
        self.message.setText(
            self.tr(
                "Those words do not match your phrase. Check what you wrote down, or show the "
                "phrase again. Backup stays off until they match."
            )
        )

    def paint_sheet(self, device: QPagedPaintDevice) -> None:
        """The phrase and its QR code on one page, for printing."""
        painter = QPainter(device)
        try:
            width = device.width()
            painter.setFont(QFont("sans", 14))
            painter.drawText(
                QRect(0, 0, width, 120),
                Qt.TextFlag.TextWordWrap,
                self.tr("ORA recovery phrase: keep this page safe; it opens your backup."),
            )
            painter.setFont(QFont("monospace", 14))
            line = painter.fontMetrics().height() * 2
            for n, word in enumerate(self.words):
                x, y = (n // 6) * width // 3, 160 + (n % 6) * line
                painter.drawText(x, y, f"{n + 1:2}. {word}")
            qr = qr_pixmap(" ".join(self.words), box_size=8)
            painter.drawPixmap(2 * width // 3, 140, qr)
        finally:
            painter.end()

    def _print(self) -> None:
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        printer = QPrinter()
        if QPrintDialog(printer, self).exec() == QDialog.DialogCode.Accepted:
            self.paint_sheet(printer)


class RestoreDialog(QDialog):
    """Bring a profile back from its backup: the service's address and the recovery phrase."""

    restore_requested = Signal(str, str, bool)  # service URL, phrase, keep paired devices
    start_fresh = Signal()

    def __init__(self, service_url: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Restore from a backup"))
        layout = QVBoxLayout(self)
        layout.addWidget(
            _wrapped(
                self.tr(
                    "<b>Had ORA on another PC?</b> Bring back your notes, history and settings "
                    "from your encrypted backup with your 12-word recovery phrase. What this "
                    "profile holds now is replaced."
                )
            )
        )
        form = QFormLayout()
        self.service = QLineEdit(service_url)
        self.phrase = QLineEdit()
        self.phrase.setPlaceholderText(self.tr("the 12 words, separated by spaces"))
        self.phrase.returnPressed.connect(self._submit)
        form.addRow(self.tr("Your ORA service"), self.service)
        form.addRow(self.tr("Recovery phrase"), self.phrase)
        layout.addLayout(form)
        self.keep_devices = QCheckBox(
            self.tr("Keep my paired devices (only if this is the same PC, not a new one)")
        )
        layout.addWidget(self.keep_devices)
        self.progress = QProgressBar()
        self.progress.hide()
        layout.addWidget(self.progress)
        self.message = _wrapped("")
        layout.addWidget(self.message)
        buttons = QHBoxLayout()
        self.fresh_button = QPushButton(self.tr("Start fresh"))
        self.fresh_button.clicked.connect(self._fresh)
        self.restore_button = QPushButton(self.tr("Restore"))
        self.restore_button.clicked.connect(self._submit)
        buttons.addWidget(self.fresh_button)
        buttons.addStretch()
        buttons.addWidget(self.restore_button)
        layout.addLayout(buttons)

    def _fresh(self) -> None:
        self.start_fresh.emit()
        self.close()

    def _submit(self) -> None:
        if not self.phrase.text().strip():
            return
        self.restore_button.setEnabled(False)
        self.message.setStyleSheet("")
        self.message.setText(self.tr("Looking for your backup…"))
        self.restore_requested.emit(
            self.service.text().strip(), self.phrase.text(), self.keep_devices.isChecked()
        )

    def show_progress(self, done: int, total: int) -> None:
        self.progress.show()
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.message.setText(self.tr("Restoring… %1 of %2 files").replace("%1", str(done))
                             .replace("%2", str(total)))  # fmt: skip

    def show_error(self, text: str) -> None:
        """Refused (wrong phrase, tampered backup, no service): nothing was changed."""
        self.restore_button.setEnabled(True)
        self.progress.hide()
        self.message.setStyleSheet("color:#b91c1c")
        self.message.setText(text)

    def show_done(self, text: str) -> None:
        self.progress.hide()
        self.message.setStyleSheet("color:#15803d")
        self.message.setText(text)
        self.restore_button.hide()
        self.fresh_button.setText(self.tr("Close"))
        self.fresh_button.clicked.disconnect()
        self.fresh_button.clicked.connect(self.close)
