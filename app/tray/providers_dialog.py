"""AI providers: which are enabled and why not; add an API key (to the keyring); test one."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.tray.wording import provider_reason, storage_notice


@dataclass(frozen=True)
class ProviderRow:
    """A provider as the dialog shows it."""

    name: str
    model: str
    enabled: bool
    reason: str
    key_ref: str


class ProvidersDialog(QDialog):
    """Emits `key_entered(key_ref, key)` and `test_requested(name)`."""

    key_entered = Signal(str, str)
    test_requested = Signal(str)

    def __init__(
        self, providers: list[ProviderRow], secrets_backend: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("AI providers"))
        self.resize(520, 360)
        self.list = QListWidget()
        # Long reasons ("disabled: no key 'openai' in the keyring; add it below") wrap; a
        # cut sentence would hide what to do.
        self.list.setWordWrap(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.empty = QLabel(
            self.tr(
                "No AI provider yet. Add one to config.toml ([[providers]] with base_url, model "
                "and key_ref), or start a local model server (Ollama, LM Studio), then open this "
                "window again. ORA still answers explicit commands such as /help meanwhile."
            )
        )
        self.empty.setWordWrap(True)
        self.empty.hide()
        self.key_ref = QLineEdit()
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.save = QPushButton(self.tr("Save key"))
        self.test = QPushButton(self.tr("Test connection"))
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.usage = QLabel()
        self.usage.setWordWrap(True)
        form = QFormLayout()
        form.addRow(self.tr("Key name"), self.key_ref)
        form.addRow(self.tr("API key"), self.key)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(self.list)
        layout.addLayout(form)
        layout.addWidget(self.save)
        layout.addWidget(self.test)
        where, path = storage_notice(secrets_backend)
        self.backend = QLabel(self.tr("Keys are stored in: %1").replace("%1", where))
        self.backend.setWordWrap(True)
        layout.addWidget(self.backend)
        self.backend_path = QLabel(path)  # a path: shown whole, selectable, not translated
        self.backend_path.setWordWrap(True)
        self.backend_path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.backend_path.setProperty("userContent", True)
        self.backend_path.setVisible(bool(path))
        layout.addWidget(self.backend_path)
        layout.addWidget(self.message)
        layout.addWidget(self.usage)
        self.save.clicked.connect(self._save)
        self.test.clicked.connect(self._test)
        self.list.currentRowChanged.connect(self._selected)
        self.providers: list[ProviderRow] = []
        self.show_providers(providers)

    def show_providers(self, providers: list[ProviderRow]) -> None:
        selected = self.list.currentRow()
        self.providers = providers
        self.empty.setVisible(not providers)
        self.list.setVisible(bool(providers))
        self.list.clear()
        for p in providers:
            state = self.tr("enabled") if p.enabled else self.tr("disabled")
            reason = provider_reason(p.reason, p.key_ref)
            self.list.addItem(f"{p.name} ({p.model}) — {state}: {reason}")
        if 0 <= selected < len(providers):
            self.list.setCurrentRow(selected)  # a refresh must not lose what the owner picked

    def show_usage(self, lines: list[str]) -> None:
        """Tokens and cost per provider (plain lines from the core's usage record)."""
        title = self.tr("Use in the last 30 days (recorded on this PC):")
        body = "\n".join(lines) if lines else self.tr("no calls yet")
        self.usage.setText(f"{title}\n{body}")

    def _selected(self, row: int) -> None:
        if 0 <= row < len(self.providers):
            self.key_ref.setText(self.providers[row].key_ref)

    def _save(self) -> None:
        name, key = self.key_ref.text().strip(), self.key.text()
        if not name or not key:
            self.message.setText(
                self.tr("Enter the key name (key_ref in config.toml) and the key.")
            )
            return
        self.key.clear()  # the key does not linger in the widget
        self.key_entered.emit(name, key)

    def _test(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.providers):
            self.test_requested.emit(self.providers[row].name)
