"""The tray's backup: turning it on (phrase shown once, three words typed back), "Back up now"
with progress in the menu, the daily schedule, a notification when a backup fails, and the
restore screen (offered on a first run). Qt side only; the work is app.backup's, run on the
bridge's loop."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets as random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QSystemTrayIcon

from app.backup import engine, service
from app.backup.keys import PhraseInvalid, keys_from_phrase, new_phrase
from app.backup.remote import BackupRefused, RemoteVault
from app.backup.schedule import (
    CHECK_S,
    BackupSchedule,
    Outcome,
    profile_has_content,
    profile_is_empty,
)
from app.backup.sealing import BackupTampered, WrongPhrase
from app.tray.backup_dialog import PhraseDialog, RestoreDialog
from app.tray.core_start import open_core

if TYPE_CHECKING:
    from app.tray.app import TrayApp


class BackupController(QObject):
    """Owns the backup schedule of the open profile and backup's windows."""

    progress = Signal(str, int, int)  # stage, done, total (from the loop's worker threads)
    done = Signal(object)  # Outcome
    failed = Signal(str)

    def __init__(self, host: TrayApp) -> None:
        super().__init__()
        self.host = host
        self.phrase_dialog: PhraseDialog | None = None
        self.restore_dialog: RestoreDialog | None = None
        self.replace_box: QMessageBox | None = None
        self.running = False
        self.percent = 0
        self.last_failure = ""
        self.schedule = BackupSchedule(
            host.settings,
            host.runtime.secrets,
            on_progress=self.progress.emit,
        )
        self.progress.connect(self._on_progress)
        self.done.connect(self._on_done)
        self.failed.connect(self._on_failed)
        # The schedule's clock is a Qt timer (it dies with this object); each due backup is one
        # coroutine on the bridge's loop, so nothing is left pending there at Quit.
        self.manual = False
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)
        self._timer.start(int(CHECK_S * 1000))
        QTimer.singleShot(60_000, self, self._tick)

    # -- the menu -------------------------------------------------------------------------------

    def add_actions(self, add: Callable[[str, str, Any], None]) -> None:
        """Backup's entries in the tray menu (`add` is the menu's own helper)."""
        add("backup", "", self.on_backup_action)
        add("restore", self.tr("Restore from a backup…"), self.open_restore)
        self.refresh()

    def refresh(self) -> None:
        """The menu entry says what a click does and, while running, how far it got."""
        action = self.host.actions.get("backup")
        if action is None:
            return
        state = service.BackupState.load(self.host.settings)
        if self.running:
            action.setText(self.tr("Backing up… %1%").replace("%1", str(self.percent)))
            self.host.refresh_icon()  # the tooltip as the host says it, then backup's line
            self.host.tray.setToolTip(f"{self.host.tray.toolTip()}\n{action.text()}")
        elif not state.enabled:
            action.setText(self.tr("Turn on backup…"))
        elif state.last_error or self.last_failure:
            action.setText(self.tr("Back up now (the last backup failed)"))
        else:
            action.setText(self.tr("Back up now"))
        if state.enabled and state.last_run:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(state.last_run))
            action.setToolTip(self.tr("Last backup: %1").replace("%1", when))
        action.setEnabled(not self.running)

    def on_backup_action(self) -> None:
        if service.BackupState.load(self.host.settings).enabled:
            self.run_now()
        else:
            self.open_setup()

    # -- turning backup on ----------------------------------------------------------------------

    def open_setup(self) -> PhraseDialog:
        """Show a new phrase once; backup turns on only when three of its words come back."""
        if self.phrase_dialog is not None and self.phrase_dialog.isVisible():
            self.phrase_dialog.raise_()  # one phrase at a time: a second would confuse
            return self.phrase_dialog
        phrase = new_phrase()
        asked = sorted(random.SystemRandom().sample(range(1, 13), 3))
        dialog = PhraseDialog(phrase, asked)

        def confirmed(typed: dict[int, str], include_keys: bool) -> None:
            settings, secrets = self.host.settings, self.host.runtime.secrets
            turn_on = asyncio.to_thread(
                service.confirm, settings, secrets, phrase, typed, include_secrets=include_keys
            )
            self.host.bridge.call(turn_on, lambda ok: self._turned_on(dialog, ok))

        dialog.confirmed.connect(confirmed)
        dialog.rejected.connect(lambda: self._forget(dialog))
        self.phrase_dialog = dialog
        dialog.show()
        return dialog

    def _forget(self, dialog: PhraseDialog) -> None:
        """Closed without confirming: that phrase is gone; backup stays as it was."""
        if self.phrase_dialog is dialog:
            self.phrase_dialog = None
        dialog.deleteLater()

    def _turned_on(self, dialog: PhraseDialog, ok: bool) -> None:
        if not ok:
            dialog.show_mismatch()
            return
        dialog.accept()
        self.phrase_dialog = None
        dialog.deleteLater()  # the phrase lives nowhere in this process but the secret store
        self.host.tray.showMessage(
            "ORA", self.tr("Backup is on. The first backup starts now."),
            QSystemTrayIcon.MessageIcon.Information, 8_000,
        )  # fmt: skip
        self.run_now()

    # -- running --------------------------------------------------------------------------------

    def _follow_profile(self) -> None:
        # A profile switch replaces the host's settings and runtime; the schedule follows.
        self.schedule.settings = self.host.settings
        self.schedule.secrets = self.host.runtime.secrets

    def _tick(self) -> None:
        """The schedule's check (cheap: it reads backup.json); the backup runs on the loop."""
        if self.host.closed or self.running:
            return
        self._follow_profile()
        if self.schedule.due():
            self._start(manual=False)

    def run_now(self) -> None:
        """Back up now: off the UI thread, progress in the menu, outcome as a notification."""
        if not self.running:
            self._follow_profile()
            self._start(manual=True)

    def _start(self, *, manual: bool) -> None:
        self._on_progress("starting", 0, 1)
        self.manual = manual
        self.host.bridge.call(
            self.schedule.run_now(),
            self.done.emit,
            lambda err: self.failed.emit(self._explain(err)),
        )

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        if stage == "restoring":
            if self.restore_dialog is not None:
                self.restore_dialog.show_progress(done, total)
            return
        share = done / total if total else 0.0
        # Reading the profile is the first half of the work, sending new chunks the second.
        percent = int(50 * share) if stage != "uploading" else 50 + int(50 * share)
        if self.running and percent == self.percent:
            return  # one event per file and per chunk: the menu changes once per percent
        self.running, self.percent = True, percent
        if not self.host.closed:
            self.refresh()

    def _on_done(self, outcome: Outcome) -> None:
        self.running, self.percent, self.last_failure = False, 100, ""
        if self.host.closed:
            return
        self.refresh()
        self.host.refresh_icon()  # the tooltip without the progress line
        if self.manual:
            self.manual = False
            kb = outcome.result.uploaded_bytes / 1024
            self.host.tray.showMessage(
                "ORA",
                self.tr("Backup done: snapshot %1, %2 KB sent.")
                .replace("%1", str(outcome.result.seq)).replace("%2", f"{kb:.0f}"),
                QSystemTrayIcon.MessageIcon.Information, 5_000,
            )  # fmt: skip

    def _on_failed(self, why: str) -> None:
        self.running, self.manual, self.last_failure = False, False, why
        if self.host.closed:
            return
        self.refresh()
        self.host.refresh_icon()
        self.host.tray.showMessage(
            "ORA", self.tr("Backup failed: %1").replace("%1", why),
            QSystemTrayIcon.MessageIcon.Warning, 30_000,
        )  # fmt: skip

    def _explain(self, err: BaseException) -> str:
        """The owner's words for a refusal, in the tray's language."""
        text = str(err)
        if isinstance(err, PhraseInvalid):
            return self.tr(
                "That is not a recovery phrase: check each of the 12 words (one is misspelt or "
                "missing)."
            )
        if isinstance(err, WrongPhrase):
            return self.tr("This recovery phrase opens no backup at this service.")
        if isinstance(err, BackupTampered):
            return self.tr("The backup did not check out (%1); nothing was restored.").replace(
                "%1", text
            )
        if isinstance(err, BackupRefused) and "quota" in text:
            return self.tr(
                "Your backup is over its storage quota; nothing more was stored. Older "
                "snapshots are pruned daily, or raise the quota of your account."
            )
        if isinstance(err, BackupRefused) and "belongs to another ORA" in text:
            return self.tr(
                "This backup was restored on another PC and now belongs to it. Turn backup on "
                "again here, with a new recovery phrase, to back this PC up."
            )
        if isinstance(err, BackupRefused) and "cannot be reached" in text:
            return self.tr("The backup service cannot be reached; ORA will try again later.")
        if isinstance(err, service.BackupNotReady):
            return self.tr("Backup cannot run yet: %1").replace("%1", text)
        return text

    # -- restoring ------------------------------------------------------------------------------

    def offer_first_run(self) -> RestoreDialog | None:
        """On a PC where this profile is empty, offer to bring it back from a backup."""
        if not profile_is_empty(self.host.settings):
            return None
        dialog = self.open_restore()
        # "Start fresh" is an answer: the offer is not made again on this profile.
        dialog.start_fresh.connect(lambda: service.BackupState().save(self.host.settings))
        return dialog

    def open_restore(self) -> RestoreDialog:
        dialog = RestoreDialog(self.host.settings.relay_url)
        dialog.restore_requested.connect(
            lambda url, phrase, keep: self._restore(dialog, url, phrase, keep)
        )
        self.restore_dialog = dialog
        dialog.show()
        return dialog

    def _restore(self, dialog: RestoreDialog, url: str, phrase: str, keep: bool) -> None:
        """Check the phrase opens a backup with the core running; then close the core, restore
        into its folder (all or nothing) and open it again."""
        settings = dataclasses.replace(
            self.host.settings, relay_url=url or self.host.settings.relay_url
        )

        async def find() -> int:
            keys = keys_from_phrase(phrase)
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
                try:
                    manifest = await engine.latest(
                        keys, RemoteVault(settings.relay_url, keys, http)
                    )
                except BackupRefused as err:
                    if "credential" in str(err) or "opens no backup" in str(err):
                        raise WrongPhrase(str(err)) from None
                    raise
            return int(manifest["seq"])

        def refused(err: BaseException) -> None:
            dialog.show_error(self._explain(err))

        self.host.bridge.call(
            find(), lambda seq: self._ask_replace(dialog, settings, phrase, keep, seq), refused
        )

    def _ask_replace(
        self, dialog: RestoreDialog, settings: Any, phrase: str, keep: bool, seq: int
    ) -> None:
        """A profile with notes, history or an audit log is replaced only when the owner says so."""
        if not profile_has_content(self.host.settings):
            self._replace(dialog, settings, phrase, keep)
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "ORA",
            self.tr(
                "This profile already has notes, history or an audit log. Replace all of it "
                "with your backup's snapshot %1? What is here now will be lost."
            ).replace("%1", str(seq)),
        )
        replace = box.addButton(
            self.tr("Replace with the backup"), QMessageBox.ButtonRole.AcceptRole
        )
        box.addButton(self.tr("Keep what is here"), QMessageBox.ButtonRole.RejectRole)

        def answered(button: object) -> None:
            if button is replace:
                self._replace(dialog, settings, phrase, keep)
            else:
                dialog.show_error(self.tr("Nothing was restored; this profile is as it was."))

        box.buttonClicked.connect(answered)
        self.replace_box = box
        box.open()

    def _replace(self, dialog: RestoreDialog, settings: Any, phrase: str, keep: bool) -> None:
        host = self.host
        secrets = host.runtime.secrets
        host._close_core()

        async def restore() -> dict[str, object]:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as http:
                return await service.restore(
                    settings, secrets, phrase, http, keep_devices=keep,
                    progress=self.progress.emit,
                )  # fmt: skip

        def reopen() -> None:
            host.adopt_core(
                host.bridge.submit(open_core(host.settings, secrets=secrets)).result(30)
            )
            host.bridge.watch_approvals(host.runtime.broker)
            if host.link is not None:
                host._start_link()
            host.updates_ui.start_checks()
            host.refresh_icon()
            self.refresh()

        def restored(done: dict[str, object]) -> None:
            reopen()
            text = self.tr("Restored your backup from snapshot %1.").replace(
                "%1", str(done["snapshot"])
            )
            if done["devices_to_pair"]:
                text += " " + self.tr("Your devices must pair again with this PC (%1).").replace(
                    "%1", str(done["devices_to_pair"])
                )
            dialog.show_done(text)

        def failed(err: BaseException) -> None:
            reopen()
            dialog.show_error(self._explain(err))

        host.bridge.call(restore(), restored, failed)

    def windows(self) -> list[Any]:
        """What shutdown must delete while the QApplication still exists."""
        self._timer.stop()
        windows = (self.phrase_dialog, self.restore_dialog, self.replace_box)
        return [w for w in windows if w is not None]
