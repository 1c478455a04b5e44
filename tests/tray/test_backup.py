"""The tray's backup against a real Relay process: the phrase shown once and checked, nothing sent
before that, progress in the menu, a notification on failure, and the restore screen on a new
PC's empty profile. Qt offscreen (pytest-qt)."""

import subprocess
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.backup import service
from app.backup.keys import new_phrase
from app.core.runtime import Runtime
from app.store.memory import Partition
from app.tray.app import TrayApp
from app.tray.backup_dialog import PhraseDialog, RestoreDialog
from tests.relay.conftest import RelayProcess
from tests.support.fixtures import make_settings

OWNER = Partition(user_id="owner", role="owner", guild_id="default")
MARKER = "okapi-teacup-2291"


def _blobs(relay: RelayProcess) -> list[Path]:
    root = relay.data_dir / "backup"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _connected_tray(qtbot: Any, tray_factory: Any, relay: RelayProcess) -> TrayApp:
    tray: TrayApp = tray_factory(relay_url=relay.url, start_link=True)
    qtbot.waitUntil(lambda: tray.status == "connected", timeout=20000)
    return tray


def _turn_on(qtbot: Any, tray: TrayApp, *, right: bool) -> PhraseDialog:
    tray.actions["backup"].trigger()
    dialog = tray.backup_ui.phrase_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
    for n, edit in dialog.inputs.items():
        edit.setText(dialog.words[n - 1] if right else dialog.words[n - 1] + "s")
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    return dialog


def test_the_phrase_qr_decodes_to_the_phrase_and_prints(qtbot: Any, tmp_path: Path) -> None:
    from PySide6.QtPrintSupport import QPrinter

    phrase = new_phrase()
    dialog = PhraseDialog(phrase, [2, 5, 11])
    qtbot.addWidget(dialog)
    dialog.show()
    assert [label.text().split("<b>")[1][:-4] for label in dialog.word_labels] == phrase.split()
    picture = tmp_path / "phrase.png"
    dialog.grab().save(str(picture))
    read = subprocess.run(
        ["zbarimg", "--raw", "-q", "--nodbus", str(picture)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert read.stdout.strip() == phrase
    printer = QPrinter()
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "sheet.pdf"))
    dialog.paint_sheet(printer)
    assert (tmp_path / "sheet.pdf").stat().st_size > 1000


def test_turning_on_needs_three_words_then_backs_up_with_progress_in_the_menu(
    qtbot: Any, tray_factory: Any, relay: RelayProcess
) -> None:
    tray = _connected_tray(qtbot, tray_factory, relay)
    tray.bridge.submit(_note(tray.runtime)).result(10)
    assert tray.actions["backup"].text() == "Turn on backup…"

    dialog = _turn_on(qtbot, tray, right=False)
    qtbot.waitUntil(lambda: "do not match" in dialog.message.text(), timeout=5000)
    assert not service.BackupState.load(tray.settings).enabled
    assert tray.runtime.secrets.get(service.KEY_NAME) is None
    assert _blobs(relay) == [], "nothing leaves the PC before the words are typed back"

    seen: list[tuple[str, int, int]] = []
    tray.backup_ui.progress.connect(lambda *a: seen.append(a))
    texts: list[str] = []
    tips: list[str] = []
    tray.backup_ui.progress.connect(lambda *_: texts.append(tray.actions["backup"].text()))
    tray.backup_ui.progress.connect(lambda *_: tips.append(tray.tray.toolTip()))
    for n, edit in dialog.inputs.items():
        edit.setText(dialog.words[n - 1])
    qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: service.BackupState.load(tray.settings).last_seq == 1, timeout=30000)
    qtbot.waitUntil(lambda: tray.actions["backup"].text() == "Back up now", timeout=5000)
    assert tray.backup_ui.phrase_dialog is None
    assert any(stage == "uploading" for stage, _, _ in seen)
    assert any(t.startswith("Backing up… ") and t.endswith("%") for t in texts)
    assert any("\nBacking up… " in t for t in tips), "progress in the tray's tooltip too"
    assert "Backing up" not in tray.tray.toolTip(), "and gone from it when done"
    for blob in _blobs(relay):
        assert MARKER.encode() not in blob.read_bytes()

    # The schedule's check: nothing is due an hour later; a day later a backup runs by itself.
    tray.backup_ui._tick()
    assert not tray.backup_ui.running
    state = service.BackupState.load(tray.settings)
    state.last_run -= 24 * 3600
    state.save(tray.settings)
    tray.backup_ui._tick()
    qtbot.waitUntil(lambda: service.BackupState.load(tray.settings).last_seq == 2, timeout=30000)


def test_a_failed_backup_is_notified_and_said_in_the_menu(
    qtbot: Any, tray_factory: Any, relay_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = relay_factory("tiny", ORA_RELAY_BACKUP_QUOTA_BYTES=str(32 * 1024))
    tray = _connected_tray(qtbot, tray_factory, small)
    tray.bridge.submit(_note(tray.runtime, 200)).result(10)
    shown: list[str] = []
    monkeypatch.setattr(tray.tray, "showMessage", lambda _t, text, *a: shown.append(text))
    _turn_on(qtbot, tray, right=True)
    qtbot.waitUntil(lambda: any("Backup failed" in s for s in shown), timeout=30000)
    assert any("storage quota" in s for s in shown)
    assert tray.actions["backup"].text() == "Back up now (the last backup failed)"
    assert service.BackupState.load(tray.settings).last_seq == 0


def test_a_new_pc_is_offered_the_restore_screen_and_gets_the_profile_back(
    qtbot: Any, tray_factory: Any, relay: RelayProcess, tmp_path: Path
) -> None:
    old = _connected_tray(qtbot, tray_factory, relay)
    tray_secrets = old.runtime.secrets
    phrase = new_phrase()
    words = phrase.split()
    assert service.confirm(old.settings, tray_secrets, phrase, {1: words[0]})
    old.bridge.submit(_note(old.runtime)).result(10)
    old.backup_ui.run_now()
    qtbot.waitUntil(lambda: service.BackupState.load(old.settings).last_seq == 1, timeout=30000)
    old.shutdown()

    from app.store.secrets import SecretStore

    settings = make_settings(tmp_path / "new-pc", relay_url=relay.url)
    settings.state_dir.mkdir(parents=True)
    secrets = SecretStore.open(settings.profile, settings.state_dir, use_keyring=False)
    new = TrayApp(settings, secrets=secrets, start_link=False)
    try:
        dialog = new.backup_ui.offer_first_run()
        assert isinstance(dialog, RestoreDialog) and dialog.isVisible()
        assert dialog.service.text() == relay.url
        dialog.phrase.setText(new_phrase())
        qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "opens no backup" in dialog.message.text(), timeout=20000)
        assert new.runtime.memory.recall(OWNER, MARKER, limit=5) == []

        dialog.phrase.setText(phrase.upper())
        qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "snapshot 1" in dialog.message.text(), timeout=30000)
        notes = new.runtime.memory.recall(OWNER, MARKER, limit=5)
        assert notes and MARKER in notes[0].text
        assert new.runtime.audit.verify() is None
        assert new.backup_ui.offer_first_run() is None, "a restored profile is not empty"
    finally:
        new.shutdown()


def test_closing_the_phrase_window_forgets_that_phrase(qtbot: Any, tray_factory: Any) -> None:
    tray = tray_factory()
    first = tray.backup_ui.open_setup()
    assert tray.backup_ui.open_setup() is first, "one phrase at a time"
    words = list(first.words)
    first.reject()
    assert tray.backup_ui.phrase_dialog is None
    second = tray.backup_ui.open_setup()
    assert second.words != words, "a closed window's phrase is never offered again"
    assert not service.BackupState.load(tray.settings).enabled


def test_start_fresh_is_an_answer(qtbot: Any, tray_factory: Any) -> None:
    tray = tray_factory()
    dialog = tray.backup_ui.offer_first_run()
    assert dialog is not None
    qtbot.mouseClick(dialog.fresh_button, Qt.MouseButton.LeftButton)
    assert tray.backup_ui.offer_first_run() is None


def test_backup_speaks_japanese(qtbot: Any, qapp: Any, tray_factory: Any) -> None:
    from app.tray import i18n

    translator = i18n.install(qapp, "ja")
    assert translator is not None
    try:
        tray = tray_factory()
        assert tray.actions["backup"].text() == "バックアップをオンにする…"
        dialog = PhraseDialog(new_phrase(), [1, 2, 3])
        qtbot.addWidget(dialog)
        assert dialog.windowTitle() == "バックアップをオンにする"
        assert dialog.next_button.text() == "書き留めました"
        restore = RestoreDialog("https://api.example.org")
        qtbot.addWidget(restore)
        assert restore.restore_button.text() == "復元"
    finally:
        qapp.removeTranslator(translator)


async def _note(runtime: Runtime, count: int = 5) -> None:
    for n in range(count):
        runtime.memory.remember(OWNER, f"note {n}: {MARKER} " * 20)
        runtime.audit.record(
            user_id="owner", role="owner", channel="tray", tool="memory_recall",
            args_digest=f"{n:064x}", risk="LOW", decision="allow", outcome="ok",
        )  # fmt: skip


def test_restoring_over_a_used_profile_asks_first(
    qtbot: Any, tray_factory: Any, relay: RelayProcess
) -> None:
    tray = _connected_tray(qtbot, tray_factory, relay)
    phrase = new_phrase()
    assert service.confirm(tray.settings, tray.runtime.secrets, phrase, {2: phrase.split()[1]})
    tray.bridge.submit(_note(tray.runtime)).result(10)
    tray.backup_ui.run_now()
    qtbot.waitUntil(lambda: service.BackupState.load(tray.settings).last_seq == 1, timeout=30000)
    tray.runtime.memory.remember(OWNER, "written after the backup")

    def restore_and(answer: str) -> RestoreDialog:
        tray.actions["restore"].trigger()
        dialog = tray.backup_ui.restore_dialog
        assert dialog is not None
        dialog.phrase.setText(phrase)
        qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: tray.backup_ui.replace_box is not None, timeout=20000)
        box = tray.backup_ui.replace_box
        assert box is not None and "snapshot 1" in box.text()
        button = next(b for b in box.buttons() if answer in b.text())
        tray.backup_ui.replace_box = None
        button.click()
        return dialog

    kept = restore_and("Keep")
    assert "Nothing was restored" in kept.message.text()
    assert tray.runtime.memory.recall(OWNER, "written after", limit=5)

    replaced = restore_and("Replace")
    qtbot.waitUntil(lambda: "snapshot 1" in replaced.message.text(), timeout=30000)
    assert tray.runtime.memory.recall(OWNER, "written after", limit=5) == []
    assert tray.runtime.memory.recall(OWNER, MARKER, limit=5)
