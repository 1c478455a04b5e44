"""A reply's markdown is shown as a person reads it, not as raw marks (real Chromium at phone
size, a real Relay and Node); markup in a reply stays text (built from DOM nodes, no HTML)."""

from typing import Any

import pytest
from playwright.async_api import expect

from app.link.relay_link import RelayLink
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.web.conftest import PHONE

pytestmark = pytest.mark.slow

REPLY = (
    "## Today\n**Two** meetings, *both* short:\n- `10:00` design review\n"
    "- 15:00 1:1, see [the agenda](https://example.com/a)\n```\nls -la ~/notes\n```\n"
    "<img src=x onerror=\"document.title='owned'\">"
)


async def test_markdown_in_a_reply_is_rendered_as_text_a_person_reads(
    browser: Any, node: RelayLink, fake_openai: FakeOpenAI
) -> None:
    _, url = await node.open_pairing()
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    await page.goto(url)
    await expect(page.locator("#dot.online")).to_have_count(1, timeout=15000)
    fake_openai.script.append(Reply(text=REPLY, chunk_delay_s=0.01))
    await page.fill("#input", "what is on today?")
    await page.click("#send")
    bubble = page.locator(".msg.ora", has_text="design review")
    await expect(bubble).to_contain_text("ls -la ~/notes", timeout=15000)
    text = await bubble.inner_text()
    for mark in ("**", "##", "```", "`10:00`", "- `", "](", "*both*"):
        assert mark not in text, (mark, text)
    assert "• 10:00 design review" in text and "the agenda (https://example.com/a)" in text
    await expect(bubble.locator("strong")).to_have_text(["Today", "Two"])
    await expect(bubble.locator("em")).to_have_text("both")
    await expect(bubble.locator("code")).to_have_text("10:00")
    await expect(bubble.locator("pre.code")).to_have_text("ls -la ~/notes")
    # Markup from the model stays text.
    assert "<img src=x" in text
    assert await bubble.locator("img").count() == 0 and await page.title() != "owned"
    await context.close()
