"""Every word in the user's language, on the PC: with the Japanese translation installed, the
tray's menu, the chat window with a tool waiting for approval and then done, the approval
popup, the Devices window with a phone online, and the Providers window (reasons, where keys
are kept, use) show no English word of the interface.

The words checked are the English sources of assets/i18n/ora_ja.ts, less those the Japanese
translations use too (ORA, PC, Relay, API, config.toml...). What the user and the model wrote,
device names and paths are not the interface's words; widgets showing them carry the
`userContent` property.
"""

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QLabel,
    QLineEdit,
    QListWidget,
    QMenu,
    QPlainTextEdit,
    QTableWidget,
    QTextBrowser,
    QWidget,
)

from app.settings import ProviderConfig
from app.tray import i18n
from tests.relay.conftest import RelayProcess
from tests.support.device_client import Device
from tests.support.fake_openai import FakeOpenAI, Reply

TS = Path(__file__).resolve().parents[2] / "assets" / "i18n" / "ora_ja.ts"
WORD = re.compile(r"[A-Za-z]{3,}")


def _words(texts: Iterator[str]) -> set[str]:
    return {w.lower() for text in texts for w in WORD.findall(re.sub(r"<[^>]+>", " ", text))}


def english_words() -> set[str]:
    messages = list(ET.parse(TS).iter("message"))
    sources = _words(m.findtext("source") or "" for m in messages)
    return sources - _words(m.findtext("translation") or "" for m in messages)


def _texts(widget: QWidget) -> Iterator[str]:
    yield widget.windowTitle() if widget.isWindow() else ""
    if isinstance(widget, QLabel | QAbstractButton):
        yield widget.text()
    if isinstance(widget, QLineEdit):
        yield widget.placeholderText()
    if isinstance(widget, QTextBrowser):
        yield widget.toPlainText()
    if isinstance(widget, QListWidget):
        yield from (widget.item(i).text() for i in range(widget.count()))
    if isinstance(widget, QTableWidget):
        for c in range(widget.columnCount()):
            if (head := widget.horizontalHeaderItem(c)) is not None:
                yield head.text()
            for r in range(widget.rowCount()):
                if (item := widget.item(r, c)) is not None:
                    yield item.text()
    if isinstance(widget, QMenu):
        yield from (a.text() for a in widget.actions())


def english_left(windows: list[QWidget]) -> list[str]:
    """English interface words in what these windows show now."""
    english = english_words()
    seen: list[str] = []
    for window in windows:
        for widget in [window, *window.findChildren(QWidget)]:
            if widget.property("userContent") or (not widget.isVisible() and widget is not window):
                continue
            if isinstance(widget, QPlainTextEdit) and not isinstance(widget, QTextBrowser):
                continue
            seen += [w for text in _texts(widget) for w in WORD.findall(text)]
    return sorted({w for w in seen if w.lower() in english})


@pytest.fixture
def japanese(qapp: Any) -> Iterator[None]:
    translator = i18n.install(qapp, "ja")
    assert translator is not None
    yield
    qapp.removeTranslator(translator)


def test_the_check_catches_an_english_string(qtbot: Any, japanese: None) -> None:
    label = QLabel("ORA needs your approval")
    qtbot.addWidget(label)
    label.show()
    assert {"needs", "approval"} <= set(english_left([label]))


def test_every_tray_window_speaks_japanese(
    qtbot: Any,
    tray_factory: Any,
    fake_openai: FakeOpenAI,
    relay: RelayProcess,
    japanese: None,
) -> None:
    tray = tray_factory(
        relay_url=relay.url,
        start_link=True,
        providers=(
            ProviderConfig(name="fake", base_url=fake_openai.base_url, model="m", local=True),
        ),
    )
    qtbot.waitUntil(lambda: tray.status == "connected", timeout=10000)
    assert tray.link is not None
    assert english_left([tray.menu]) == []

    # A phone, online: the Devices window.
    _, url = tray.bridge.submit(tray.link.open_pairing()).result(5)
    phone = Device(relay.url, name="ピクセル")
    tray.bridge.submit(phone.pair(url)).result(10)
    tray.bridge.submit(phone.connect()).result(10)
    qtbot.waitUntil(lambda: phone.device_id in tray.link.online_devices(), timeout=10000)
    devices = tray.open_devices()
    qtbot.addWidget(devices)
    assert devices.table.item(0, 2).text() == "現在オンライン"
    assert english_left([devices]) == []

    # The chat: a tool that waits for the owner's approval here, then runs.
    fake_openai.script += [
        Reply(tool_calls=[("files_write", {"path": "メモ.txt", "text": "牛乳"})]),
        Reply(text="書きました。"),
    ]
    tray.open_chat()
    tray.chat.input.setText("メモして")  # QtTest cannot type kana (it aborts); Enter sends it
    qtbot.keyClick(tray.chat.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(tray.popups), timeout=20000)
    popup = next(iter(tray.popups.values()))
    assert "ファイルに書き込む" in popup.summary.text() and "リスク: 高" in popup.summary.text()
    qtbot.waitUntil(lambda: "承認待ち" in tray.chat.transcript, timeout=5000)
    assert "実行中" not in tray.chat.transcript  # waiting, not said to be running
    assert english_left([popup, tray.chat]) == []
    qtbot.mouseClick(popup.approve_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "書きました。" in tray.chat.transcript, timeout=20000)
    assert "ファイルに書き込む: 完了" in tray.chat.transcript
    assert english_left([tray.chat]) == []

    # Providers: why each is on, where keys are kept, what was used.
    providers = tray.open_providers()
    qtbot.addWidget(providers)
    assert "ローカルサーバー" in providers.list.item(0).text()
    assert english_left([providers]) == [], providers.backend.text()

    # Pairing a device: the QR window.
    tray.open_pairing("owner")
    qtbot.waitUntil(lambda: tray.pairing_dialog is not None and tray.pairing_dialog.isVisible())
    assert english_left([tray.pairing_dialog]) == []
    tray.bridge.submit(phone.close()).result(5)
    QApplication.processEvents()
