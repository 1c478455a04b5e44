"""Every word in the user's language: two phones in ja-JP (real Chromium at phone size, a real
Relay and Node) go through the screens a person meets in the first hour: the welcome before
pairing, the paired welcome, a tool waiting for approval and the approval card on both phones,
the tool's states, the Devices list with its rename form and notifications row, and the PC
going offline with a message kept. On each, no English word of the interface is visible."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from app.link.relay_link import RelayLink
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime
from tests.web.conftest import PHONE
from tests.web.language_check import assert_all_japanese, english_left

pytestmark = pytest.mark.slow
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


async def test_the_check_catches_an_english_string(browser: Any, relay_factory: Any) -> None:
    """The check itself: an English sentence from the catalogue on a Japanese page is found."""
    relay = relay_factory()
    context = await browser.new_context(**PHONE, locale="ja-JP")
    page = await context.new_page()
    await page.goto(f"{relay.url}/app/")
    await expect(page.locator("#welcome")).to_be_visible(timeout=10000)
    await assert_all_japanese(page, "welcome")
    await page.evaluate(
        "() => { document.getElementById('status').textContent = OraI18n.tr('en', 'withdraw'); }"
    )
    left, _ = await english_left(page)
    assert {"Withdraw", "request"} <= set(left)
    await context.close()


async def test_every_screen_of_the_first_hour_speaks_japanese(
    tmp_path: Path, browser: Any, relay_factory: Any, fake_openai: FakeOpenAI
) -> None:
    relay = relay_factory()
    runtime = await open_runtime(tmp_path / "node", fake_openai)
    link = RelayLink(runtime=runtime, relay_urls=[relay.url])
    link.start()
    async with asyncio.timeout(10):
        await link.wait_connected()
    try:
        phones = []
        for _ in range(2):
            _, url = await link.open_pairing()
            context = await browser.new_context(**PHONE, locale="ja-JP")
            page = await context.new_page()
            await page.goto(url)
            await expect(page.locator("#dot.online")).to_have_count(1, timeout=15000)
            phones.append(page)
        asker, approver = phones
        await expect(asker.locator(".paired-welcome")).to_contain_text("できること")
        await assert_all_japanese(asker, "paired welcome")

        (runtime.settings.state_dir / "files").mkdir(parents=True, exist_ok=True)
        fake_openai.script += [
            Reply(tool_calls=[("files_write", {"path": "メモ.txt", "text": "牛乳"})]),
            Reply(text="書きました。"),
        ]
        await asker.fill("#input", "メモして")
        await asker.click("#send")
        await expect(asker.locator(".tool.waiting")).to_have_text(
            "ファイルに書き込む — 承認待ち", timeout=15000
        )
        mine = asker.locator(".card.approval.mine")
        await expect(mine.locator("button.withdraw")).to_have_text("依頼を取り下げる")
        await assert_all_japanese(asker, "own approval waiting")
        card = approver.locator(".card.approval")
        await expect(card.locator("h2")).to_have_text("承認が必要です: ファイルに書き込む")
        await expect(card.locator(".risk")).to_have_text("リスク: 高")
        await expect(card.locator(".countdown")).to_contain_text("秒で自動的に拒否")
        await assert_all_japanese(approver, "approval card")
        SHOTS.mkdir(parents=True, exist_ok=True)
        await approver.screenshot(path=str(SHOTS / "web-approval-judged-ja.png"))
        await card.locator("button.approve").click()
        await expect(asker.locator(".tool.ok")).to_have_text(
            "ファイルに書き込む — 完了", timeout=15000
        )
        await expect(asker.locator(".msg.ora").last).to_have_text("書きました。", timeout=15000)
        await assert_all_japanese(asker, "tool done")

        await approver.click("#tab-devices")
        rows = approver.locator(".device:not(.push-setting)")
        await expect(rows).to_have_count(2, timeout=10000)
        await expect(rows.first).to_contain_text("現在オンライン")
        await expect(approver.locator(".push-setting")).to_be_visible()
        await assert_all_japanese(approver, "devices")
        await rows.first.locator("button.rename").click()
        await expect(rows.first.locator(".rename-form .save")).to_have_text("保存")
        await assert_all_japanese(approver, "rename form")
        await approver.screenshot(path=str(SHOTS / "web-devices-rename-ja.png"))

        await link.stop()
        await expect(asker.locator("#dot.offline")).to_have_count(1, timeout=10000)
        await asker.fill("#input", "あとで送って")
        await asker.click("#send")
        if await asker.locator("#cloud-ask").is_visible():
            await assert_all_japanese(asker, "cloud offer")
            await asker.click("#cloud-no")
        await expect(asker.locator(".msg.me.unsent")).to_have_count(1)
        await assert_all_japanese(asker, "offline, message kept")
    finally:
        await link.stop()
        await runtime.close()
