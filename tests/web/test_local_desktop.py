"""The web client served by the local server for use on the PC: no Relay, no pairing."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from app.local_server import server as local_server
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime

pytestmark = pytest.mark.slow


@pytest.fixture
async def local(tmp_path: Path, fake_openai: FakeOpenAI) -> AsyncIterator[Any]:
    runtime = await open_runtime(tmp_path, fake_openai)
    served = await local_server.start(runtime)
    assert served is not None
    yield served
    await served.stop()
    await runtime.close()


async def test_owner_chats_from_the_tray_link_and_the_token_leaves_the_address_bar(
    browser: Any, local: Any, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script.append(Reply(text="Lunch with Mei is at 12:30.", chunk_delay_s=0.02))
    page = await (await browser.new_context(locale="en-US")).new_page()
    await page.goto(local.owner_url)
    await page.wait_for_selector("#dot.online", timeout=15000)
    assert local.token not in page.url
    await page.fill("#input", "when is lunch?")
    await page.click("#send")
    await expect(page.locator(".msg.ora")).to_have_text(
        "Lunch with Mei is at 12:30.", timeout=15000
    )
    # A reload in the same tab stays signed in; the token was kept for this tab only.
    await page.reload()
    await page.wait_for_selector("#dot.online", timeout=15000)


async def test_a_page_without_the_token_is_told_how_to_open_it(browser: Any, local: Any) -> None:
    page = await (await browser.new_context(locale="ja-JP")).new_page()
    await page.goto(local.url + "#local=" + "x" * 43)
    await expect(page.locator("#status")).to_contain_text("トレイメニュー", timeout=15000)
    await expect(page.locator("#composer")).to_be_visible()
