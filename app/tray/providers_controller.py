"""The tray's Providers window: which providers are enabled and why not, add a key, test one.

Saving a key (the keyring can be slow) and testing a provider run on the core's loop, never
on the UI thread; the core decides (ProviderPool), this only shows."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from app.core.providers import ProviderPool
from app.tray.providers_dialog import ProviderRow, ProvidersDialog
from app.tray.wording import usage_line

if TYPE_CHECKING:
    from app.tray.app import TrayApp


class ProvidersController(QObject):
    """Opens the Providers dialog and carries out what the owner asks there."""

    def __init__(self, host: TrayApp) -> None:
        super().__init__()
        self.host = host
        self.dialog: ProvidersDialog | None = None

    def rows(self) -> list[ProviderRow]:
        return [
            ProviderRow(s.config.name, s.config.model, s.enabled, s.reason, s.config.key_ref)
            for s in self.host.runtime.providers.statuses
        ]

    def usage(self) -> list[str]:
        """Tokens and cost per provider over the last 30 days, from this PC's record."""
        ledger = self.host.runtime.providers.usage
        return [usage_line(t) for t in ledger.totals(time.time() - 30 * 86400)] if ledger else []

    def open(self) -> ProvidersDialog:
        runtime = self.host.runtime
        dialog = ProvidersDialog(self.rows(), runtime.secrets.backend_description)
        dialog.show_usage(self.usage())
        dialog.key_entered.connect(lambda name, key: self.save_key(name, key, dialog))
        dialog.test_requested.connect(lambda name: self.test(name, dialog))
        self.dialog = dialog
        dialog.show()
        return dialog

    def save_key(self, name: str, key: str, dialog: ProvidersDialog | None = None) -> None:
        """Store an API key in the secret store and re-check which providers are enabled."""
        runtime, configured = self.host.runtime, self.host.settings.providers

        def store_and_recheck() -> None:
            runtime.secrets.set(name, key)
            # Providers found on this PC stay; configured ones are re-checked for their keys.
            detected = [s for s in runtime.providers.statuses if s.config not in configured]
            fresh = ProviderPool.from_config(configured, runtime.secrets)
            runtime.providers.statuses[:] = fresh.statuses + detected

        async def save() -> None:
            await asyncio.to_thread(store_and_recheck)

        def saved(_none: None) -> None:
            if dialog is not None:
                dialog.show_providers(self.rows())
                dialog.message.setText(self.tr("Key saved."))

        def failed(error: BaseException) -> None:
            if dialog is not None:
                dialog.message.setText(
                    self.tr("The key was not saved: %1").replace("%1", str(error))
                )

        self.host.bridge.call(save(), saved, failed)

    def test(self, name: str, dialog: ProvidersDialog | None = None) -> None:
        """Ask the provider for a short answer (the core's probe, on the core's loop)."""

        def answered(text: str) -> None:
            if dialog is not None:
                dialog.message.setText(
                    self.tr("%1 answered: %2").replace("%1", name).replace("%2", str(text)[:80])
                )

        def failed(error: BaseException) -> None:
            if dialog is not None:
                dialog.message.setText(
                    self.tr("%1 did not answer: %2").replace("%1", name).replace("%2", str(error))
                )

        self.host.bridge.call(self.host.runtime.providers.probe(name), answered, failed)

    def close(self) -> None:
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
