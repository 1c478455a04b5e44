"""Tray tests are synchronous (Qt's loop drives them), so servers they use run on their own
loop threads instead of pytest's (idle) event loop."""

import asyncio
import threading
from collections.abc import Iterator

import pytest

from tests.installer.conftest import setup  # noqa: F401
from tests.relay.conftest import relay, relay_factory  # noqa: F401
from tests.support.fake_openai import FakeOpenAI


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
