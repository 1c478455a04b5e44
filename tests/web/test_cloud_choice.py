"""The web client's Cloud choice, in real Chromium: explicit, with a plain notice (en/ja) that
the Cloud reads what it runs; offered when the PC is offline, never used silently."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.cloud.conftest import (  # noqa: F401
    cloud_keys,
    cloud_relay_env,
    owner_factory,
    worker_factory,
)
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.web.conftest import PHONE

pytestmark = pytest.mark.slow
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def send(page: Any, text: str) -> None:
    await page.fill("#input", text)
    await page.click("#send")


async def test_cloud_is_chosen_explicitly_and_offered_when_the_pc_is_offline(
    browser: Any,
    relay_factory,
    worker_factory,  # noqa: F811
    owner_factory,  # noqa: F811
    cloud_relay_env,  # noqa: F811
    fake_openai: FakeOpenAI,
) -> None:
    relay = relay_factory(**cloud_relay_env)
    worker_factory(relay)
    owner = await owner_factory(relay)
    _, url = await owner.link.open_pairing()
    await asyncio.sleep(0.3)
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_selector("#dot.online", timeout=15000)
    await expect(page.locator("#target")).to_have_text("PC")

    # Choosing the Cloud shows what it means before anything is sent.
    await page.click("#target")
    notice = page.locator("#cloud-notice")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("can read what it runs")
    await expect(page.locator("#cloud-offer")).to_be_hidden()
    await page.click("#cloud-yes")
    await expect(page.locator("#target")).to_have_text("Cloud ($)")
    fake_openai.script.append(Reply(text="Answered by the Cloud.", chunk_delay_s=0.02))
    await send(page, "hello from the browser")
    await expect(page.locator(".msg.ora.cloud", has_text="Answered by the Cloud.")).to_have_count(
        1, timeout=20000
    )
    await expect(page.locator(".receipt")).to_contain_text("Cloud · gpt-4o", timeout=10000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "web-cloud-1-reply-en.png"))

    # Back to the PC; the PC goes offline: sending offers the Cloud instead of using it.
    await page.click("#target")
    await expect(page.locator("#target")).to_have_text("PC")
    await owner.link.stop()
    await page.wait_for_selector("#dot.offline", timeout=15000)
    calls = len(fake_openai.requests)
    await send(page, "what is on today?")
    await expect(page.locator("#cloud-offer")).to_be_visible()
    await expect(notice).to_be_visible()
    await page.click("#lang")
    await expect(notice).to_contain_text("読むことができます")
    await expect(page.locator("#cloud-offer")).to_contain_text("PC がオフライン")
    await page.screenshot(path=str(SHOTS / "web-cloud-2-offer-ja.png"))
    await page.click("#cloud-no")
    await asyncio.sleep(0.5)
    assert len(fake_openai.requests) == calls, "declining must send nothing anywhere"
    # Declined, the message is kept for the PC (shown as not sent), never dropped.
    await expect(page.locator(".msg.me.unsent", has_text="what is on today?")).to_have_count(1)

    # Offered again; accepted this time, the waiting message goes to the Cloud.
    fake_openai.script.append(Reply(text="クラウドから回答します。"))
    await send(page, "今日の予定は？")
    await page.click("#cloud-yes")
    await expect(page.locator(".msg.ora.cloud", has_text="クラウドから回答します。")).to_have_count(
        1, timeout=20000
    )
    await expect(page.locator("#target")).to_have_text("クラウド（有料）")
    await context.close()


async def test_a_fresh_account_is_told_to_subscribe_in_its_language(
    browser: Any,
    relay_factory,
    worker_factory,  # noqa: F811
    owner_factory,  # noqa: F811
    cloud_relay_env,  # noqa: F811
    fake_openai: FakeOpenAI,
) -> None:
    relay = relay_factory(**cloud_relay_env)
    worker_factory(relay)
    owner = await owner_factory(relay, subscribe=False)
    for locale, expected in (("en-US", "No Cloud budget: subscribe"), ("ja-JP", "プランに登録")):
        _, url = await owner.link.open_pairing()
        await asyncio.sleep(0.3)
        context = await browser.new_context(**PHONE, locale=locale)
        page = await context.new_page()
        await page.goto(url)
        await page.wait_for_selector("#dot.online", timeout=15000)
        await page.click("#target")
        await page.click("#cloud-yes")
        await send(page, "spend the Cloud for free")
        await expect(page.locator("#status")).to_contain_text(expected, timeout=20000)
        await context.close()
    assert fake_openai.requests == [], "nothing reached the provider"
