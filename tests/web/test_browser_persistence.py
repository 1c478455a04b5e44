"""A paired browser stays paired: idle past its token's life, Relay restart, Node restart.

And nothing the user typed ever reaches the Relay's disk or logs.
"""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from app.link.relay_link import RelayLink
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime
from tests.web.conftest import PHONE

pytestmark = pytest.mark.slow


async def ask(page: Any, fake: FakeOpenAI, question: str, answer: str) -> None:
    fake.script.append(Reply(text=answer))
    await page.fill("#input", question)
    await page.click("#send")
    await expect(page.locator(".msg.ora", has_text=answer)).to_have_count(1, timeout=20000)


async def test_stays_paired_through_token_expiry_relay_restart_and_node_restart(
    tmp_path: Path, browser: Any, relay_factory: Any, fake_openai: FakeOpenAI
) -> None:
    relay = relay_factory("short", ORA_RELAY_ACCESS_TTL_S="3")
    runtime = await open_runtime(tmp_path / "node", fake_openai)
    link = RelayLink(runtime=runtime, relay_urls=[relay.url])
    link.start()
    async with asyncio.timeout(10):
        await link.wait_connected()
    _, url = await link.open_pairing()
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    pairs: list[str] = []
    page.on("request", lambda r: pairs.append(r.url) if r.url.endswith("/v1/pair") else None)
    await page.goto(url)
    await expect(page.locator("#dot.online")).to_have_count(1, timeout=15000)
    marker = "MARKER-browser-4e1d"
    await ask(page, fake_openai, f"remember {marker}", f"noted {marker}")

    # Idle past the access token's lifetime: the page renews it on its own.
    await asyncio.sleep(6)
    await ask(page, fake_openai, "after idling", "still paired after idling")

    # The Relay restarts: the page reconnects (refreshing its expired token) by itself.
    relay.stop()
    await expect(page.locator("#dot.offline")).to_have_count(1, timeout=10000)
    relay.start()
    await expect(page.locator("#dot.online")).to_have_count(1, timeout=30000)
    await ask(page, fake_openai, "after relay restart", "back after the relay restart")

    # The Node restarts (same profile, same keys): the page sees it go and come back.
    await link.stop()
    await expect(page.locator("#dot.offline")).to_have_count(1, timeout=10000)
    link = RelayLink(runtime=runtime, relay_urls=[relay.url])
    link.start()
    await expect(page.locator("#dot.online")).to_have_count(1, timeout=30000)
    await ask(page, fake_openai, "after node restart", "back after the node restart")
    assert len(pairs) == 1, "none of this may need pairing again"
    await context.close()
    await link.stop()
    await runtime.close()

    relay.stop()
    for path in relay.data_dir.rglob("*"):
        if path.is_file():
            assert marker.encode() not in path.read_bytes(), f"plaintext in {path}"
