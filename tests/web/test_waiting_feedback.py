"""Feedback while waiting, in real Chromium at phone size: "thinking…" from the moment a
message is sent until the first word; a message typed while the PC is offline is kept (shown
as not sent, kept across a reload in IndexedDB) and sent when the PC is back, never dropped."""

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
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def send(page: Any, text: str) -> None:
    await page.fill("#input", text)
    await page.click("#send")


async def test_thinking_until_the_first_word_and_offline_messages_kept_through_a_reload(
    tmp_path: Path, browser: Any, relay_factory: Any, fake_openai: FakeOpenAI
) -> None:
    relay = relay_factory()
    runtime = await open_runtime(tmp_path / "node", fake_openai)
    link = RelayLink(runtime=runtime, relay_urls=[relay.url])
    link.start()
    async with asyncio.timeout(10):
        await link.wait_connected()
    _, url = await link.open_pairing()
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    await page.goto(url)
    await expect(page.locator("#dot.online")).to_have_count(1, timeout=15000)

    # A slow model: "Thinking…" is shown at once, and replaced by the first word.
    fake_openai.script.append(Reply(text="Here is the slow answer.", hang_s=2.5))
    await send(page, "a slow question")
    thinking = page.locator(".msg.ora.thinking")
    await expect(thinking).to_have_text("Thinking…", timeout=1000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "web-thinking-en.png"))
    await expect(page.locator(".msg.ora", has_text="Here is the slow answer.")).to_have_count(
        1, timeout=20000
    )
    await expect(thinking).to_have_count(0)
    await expect(page.locator(".msg.ora", has_text="Thinking")).to_have_count(0)

    # The PC goes away (a guest-less owner without a Cloud: the message is kept, not dropped).
    await link.stop()
    await expect(page.locator("#dot.offline")).to_have_count(1, timeout=10000)
    calls = len(fake_openai.requests)
    await send(page, "written while the PC was off")
    unsent = page.locator(".msg.me.unsent", has_text="written while the PC was off")
    await expect(unsent).to_have_count(1)
    await expect(unsent).to_contain_text("Not sent yet")
    if await page.locator("#cloud-ask").is_visible():
        await page.click("#cloud-no")  # declining the Cloud keeps it for the PC
    await expect(unsent).to_have_count(1)
    await expect(page.locator("#input")).to_have_value("")

    # A reload keeps it (IndexedDB), still marked not sent; in Japanese too.
    await page.reload()
    await expect(unsent).to_have_count(1, timeout=10000)
    await page.click("#lang")
    await expect(unsent).to_contain_text("まだ送信していません")
    await page.screenshot(path=str(SHOTS / "web-unsent-ja.png"))
    await page.click("#lang")
    await asyncio.sleep(0.5)
    assert len(fake_openai.requests) == calls, "nothing may be sent while the PC is off"

    # The PC comes back: the kept message is sent by itself and answered; nothing stays kept.
    fake_openai.script.append(Reply(text="Answer to the kept message."))
    link = RelayLink(runtime=runtime, relay_urls=[relay.url])
    link.start()
    await expect(page.locator("#dot.online")).to_have_count(1, timeout=30000)
    await expect(page.locator(".msg.ora", has_text="Answer to the kept message.")).to_have_count(
        1, timeout=20000
    )
    await expect(page.locator(".msg.me.unsent")).to_have_count(0)
    await expect(page.locator(".msg.me", has_text="written while the PC was off")).to_have_count(1)
    prompts = [str(r) for r in fake_openai.requests[calls:]]
    assert any("written while the PC was off" in p for p in prompts)

    # Sent once only: a reload after it was delivered does not send it again.
    await page.reload()
    await expect(page.locator("#dot.online")).to_have_count(1, timeout=30000)
    await asyncio.sleep(1)
    await expect(page.locator(".msg.me.unsent")).to_have_count(0)
    again = [str(r) for r in fake_openai.requests[calls:]]
    assert sum("written while the PC was off" in p for p in again) == sum(
        "written while the PC was off" in p for p in prompts
    )
    await context.close()
    await link.stop()
    await runtime.close()
