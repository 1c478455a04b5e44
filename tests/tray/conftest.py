"""Tray tests are synchronous (Qt's loop drives them), so servers they use run on their own
loop threads instead of pytest's (idle) event loop."""

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent

from app.tray.app import TrayApp
from tests.installer.conftest import setup  # noqa: F401
from tests.relay.conftest import relay, relay_factory  # noqa: F401
from tests.support.fake_openai import FakeOpenAI
from tests.support.fixtures import make_settings


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(FakeOpenAI().start(), loop).result(10)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


@pytest.fixture
def tray_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("ORA_HOME", str(tmp_path))
    monkeypatch.setenv("ORA_NO_LOCAL_DETECT", "1")
    monkeypatch.setattr("app.store.secrets.usable_keyring", lambda: None)
    made: list[TrayApp] = []

    def make(**overrides: Any) -> TrayApp:
        start_link = overrides.pop("start_link", False)
        tray = TrayApp(make_settings(tmp_path, **overrides), start_link=start_link)
        made.append(tray)
        return tray

    yield make
    for tray in made:
        if tray.bridge.loop.is_running():
            tray.shutdown()
    made.clear()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
