"""Quiet start: the Providers dialog says what to do when empty and never cuts its text; "no OS
keyring" is said where it matters (`ora providers`), not on every command."""

import subprocess
import sys
from pathlib import Path
from typing import Any

from app.tray.providers_dialog import ProviderRow, ProvidersDialog
from tests.node.test_one_node_per_profile import node_env

ROOT = Path(__file__).resolve().parents[2]


def test_an_empty_providers_dialog_says_what_to_do(qtbot: Any) -> None:
    dialog = ProvidersDialog([], "file readable only by you (no OS keyring found): /x")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.empty.isVisible() and not dialog.list.isVisible()
    assert "config.toml" in dialog.empty.text() and "Ollama" in dialog.empty.text()
    assert "no OS keyring found" in dialog.backend.text()


def test_long_provider_reasons_wrap_instead_of_being_cut(qtbot: Any) -> None:
    reason = "no key 'openai' in the keyring: add it below, or run `ora key set openai` " * 2
    rows = [ProviderRow("openai", "gpt-4o-mini", False, reason, "openai")]
    dialog = ProvidersDialog(rows, "OS keyring (SecretService)")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    item = dialog.list.item(0)
    rect = dialog.list.visualItemRect(item)
    line = dialog.list.fontMetrics().height()
    assert rect.height() >= 2 * line, "the reason wraps onto more lines"
    assert rect.width() <= dialog.list.viewport().width()
    assert dialog.backend.wordWrap() and dialog.message.wordWrap()


def test_no_keyring_is_said_by_ora_providers_not_by_every_command(tmp_path: Path) -> None:
    env = node_env(tmp_path, DBUS_SESSION_BUS_ADDRESS="disabled:")

    def ora(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    for args in (("audit", "show"), ("key", "list")):
        quiet = ora(*args)
        assert quiet.returncode == 0, quiet.stderr
        assert "no OS keyring" not in quiet.stderr, args
    told = ora("providers")
    assert "no OS keyring found" in told.stdout
