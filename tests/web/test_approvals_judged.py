"""Approvals a person can judge, and devices with names, in real Chromium at phone size through
a real Relay: the card names the action in words, its whole target, the asking person and
device by name, and counts down; it stays pinned above a long chat; the phone that asked gets
Withdraw instead of buttons it may not use, and its tool shows as waiting, not as started."""

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


async def pair_phone(browser: Any, link: RelayLink, locale: str = "en-US") -> Any:
    _, url = await link.open_pairing()
    context = await browser.new_context(**PHONE, locale=locale)
    page = await context.new_page()
    await page.goto(url)
    await expect(page.locator("#dot.online")).to_have_count(1, timeout=15000)
    return page


async def seconds_left(card: Any) -> int:
    text = await card.locator(".countdown").text_content()
    return int("".join(c for c in text if c.isdigit()))


async def test_an_approval_a_person_can_judge_and_the_asker_can_withdraw(
    tmp_path: Path, browser: Any, relay_factory: Any, fake_openai: FakeOpenAI
) -> None:
    relay = relay_factory()
    runtime = await open_runtime(tmp_path / "node", fake_openai)
    link = RelayLink(runtime=runtime, relay_urls=[relay.url])
    link.start()
    async with asyncio.timeout(10):
        await link.wait_connected()
    try:
        asker = await pair_phone(browser, link)
        approver = await pair_phone(browser, link)

        # The owner names the other phone from this one; both are "online now".
        await approver.click("#tab-devices")
        rows = approver.locator(".device:not(.push-setting)")
        await expect(rows).to_have_count(2, timeout=10000)
        await expect(rows.first).to_contain_text("online now")
        await expect(rows.nth(1)).to_contain_text("online now")
        await rows.first.locator("button.rename").click()
        await rows.first.locator(".rename-form input").fill("Kitchen tablet")
        await rows.first.locator(".rename-form .save").click()
        await expect(rows.first).to_contain_text("Kitchen tablet", timeout=10000)
        names = {d.name for d in link.registry.all()}
        assert "Kitchen tablet" in names
        await approver.click("#tab-chat")

        # A long chat on the asking phone: the card must not scroll away with it.
        await asker.evaluate(
            """() => { for (let i = 0; i < 40; i++) { const d = document.createElement('div');
                d.className = 'msg me'; d.textContent = 'earlier message ' + i;
                document.getElementById('chat').appendChild(d); } }"""
        )
        fake_openai.script += [
            Reply(tool_calls=[("files_write", {"path": "notes/plan.txt", "text": "hello"})]),
            Reply(text="All right, I did not write it."),
        ]
        (runtime.settings.state_dir / "files" / "notes").mkdir(parents=True, exist_ok=True)
        await asker.fill("#input", "write my plan down")
        await asker.click("#send")

        full_path = str((runtime.settings.state_dir / "files" / "notes" / "plan.txt").resolve())
        card = approver.locator(".card.approval")
        await expect(card).to_have_count(1, timeout=15000)
        await expect(card.locator("h2")).to_have_text("Approval needed: Write a file")
        await expect(card.locator(".target")).to_have_text(f"On: {full_path}")
        await expect(card.locator(".who")).to_have_text(
            "Asked by you (the owner) on Kitchen tablet"
        )
        await expect(card.locator(".risk")).to_have_text("Risk: high")
        await expect(card.locator("button.approve")).to_have_count(1)
        first = await seconds_left(card)
        async with asyncio.timeout(6):  # the countdown counts on screen (a loaded CI is slow)
            while await seconds_left(card) > first - 2:
                await asyncio.sleep(0.2)

        # The phone that asked: its card says it waits, and offers Withdraw only.
        mine = asker.locator(".card.approval.mine")
        await expect(mine).to_have_count(1, timeout=10000)
        await expect(mine.locator("button.approve, button.deny")).to_have_count(0)
        await expect(mine.locator("button.withdraw")).to_have_text("Withdraw request")
        await expect(mine.locator(".who")).to_have_text("Asked by you (the owner) on this device")
        await expect(asker.locator(".tool.waiting")).to_have_text(
            "Write a file — waiting for approval"
        )
        await expect(asker.locator(".msg.ora.thinking")).to_have_text("Waiting for approval…")
        # Pinned: scrolled to the end of the long chat, the card is still on screen, at the top.
        await asker.evaluate(
            "() => { const m = document.querySelector('main'); m.scrollTop = m.scrollHeight; }"
        )
        box = None
        for _ in range(20):  # the scroll lands within a few frames
            await asyncio.sleep(0.15)
            box = await mine.bounding_box()
            if box is not None and 0 <= box["y"] < 200:
                break
        assert box is not None and 0 <= box["y"] < 200, box
        assert await mine.is_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        await approver.screenshot(path=str(SHOTS / "web-approval-judged-en.png"))
        await asker.screenshot(path=str(SHOTS / "web-approval-withdraw-en.png"))

        await mine.locator("button.withdraw").click()
        await expect(mine).to_have_count(0, timeout=10000)
        await expect(card).to_have_count(0, timeout=10000)  # closed on every device
        await expect(asker.locator(".tool.denied")).to_have_text("Write a file — not run")
        await expect(asker.locator(".msg.ora").last).to_have_text(
            "All right, I did not write it.", timeout=15000
        )
        assert not (runtime.settings.state_dir / "files" / "notes" / "plan.txt").exists()
        row = next(r for r in runtime.audit.rows() if r["tool"] == "files_write")
        assert row["outcome"] == "withdrawn"
    finally:
        await link.stop()
        await runtime.close()
