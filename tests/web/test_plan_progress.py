"""The web client on the PC shows a plan as it runs and stops an answer, in the user's language."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
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
    served_with_runtime = SimpleNamespace(owner_url=served.owner_url, runtime=runtime)
    yield served_with_runtime
    await served.stop()
    await runtime.close()


async def test_the_plan_shows_step_n_of_m_then_the_answer(
    browser: Any, local: Any, fake_openai: FakeOpenAI
) -> None:
    plan = {"steps": [{"do": "note it", "tool": "remember"}, {"do": "check it", "tool": "recall"}]}
    fake_openai.script += [
        Reply(tool_calls=[("make_plan", {"goal": "g"})]),
        Reply(text=json.dumps(plan)),
        Reply(tool_calls=[("remember", {"text": "umbrella in the car"})]),
        Reply(tool_calls=[("recall", {"query": "umbrella"})]),
        Reply(text="Noted: the umbrella is in the car."),
    ]
    page = await (await browser.new_context(locale="en-US")).new_page()
    await page.goto(local.owner_url())
    await page.wait_for_selector("#dot.online", timeout=15000)
    await page.fill("#input", "note my umbrella is in the car and check it")
    await page.click("#send")
    await expect(page.locator(".msg.ora")).to_have_text(
        "Noted: the umbrella is in the car.", timeout=15000
    )
    box = page.locator(".plan")
    await expect(box).to_contain_text("Step 2 of 2")
    await expect(box.locator(".step.done")).to_have_count(2)
    await expect(box).to_contain_text("1. note it (Remember something) — done")
    await expect(page.locator("button.stop")).to_have_count(0)


async def test_stop_ends_a_long_answer_and_says_so_in_japanese(
    browser: Any, local: Any, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script.append(Reply(text=" ".join(["あ"] * 400), chunk_delay_s=0.05))
    page = await (await browser.new_context(locale="ja-JP")).new_page()
    await page.goto(local.owner_url())
    await page.wait_for_selector("#dot.online", timeout=15000)
    await page.fill("#input", "長い話をして")
    await page.click("#send")
    await expect(page.locator(".msg.ora")).to_contain_text("あ", timeout=15000)
    await page.click("button.stop")
    await expect(page.locator(".stopped")).to_have_text("停止しました。", timeout=10000)
    text = await page.locator(".msg.ora").inner_text()
    assert text.count("あ") < 300
    assert local.runtime.assistant.running_turns("owner") == []
