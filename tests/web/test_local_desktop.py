"""The web client served by the local server for use on the PC: no Relay, no pairing."""

import asyncio
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import expect

from app.local_server import server as local_server
from tests.relay.conftest import free_port
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime
from tests.web.conftest import ARGS, CHROMIUM

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
    await page.goto(local.owner_url())
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


async def test_another_local_user_reading_the_browsers_command_line_gets_nothing(
    tmp_path: Path, local: Any, browser: Any
) -> None:
    """The attacker is another account on the PC: /proc/<pid>/cmdline is world-readable."""
    url = local.owner_url()
    port = free_port()
    # The browser as the desktop starts it: the URL is an argument of the process.
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={tmp_path / 'chromium'}",
            *ARGS,
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        from playwright.async_api import async_playwright

        async with async_playwright() as pw:
            owner = None
            for _ in range(100):
                try:
                    owner = await pw.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
                    break
                except Exception:  # not listening yet
                    await asyncio.sleep(0.1)
            assert owner is not None
            page = owner.contexts[0].pages[0]
            await page.wait_for_selector("#dot.online", timeout=15000)
            # The owner's tab is in: its URL no longer shows the code either.
            assert "#login=" not in page.url

            # What `ps` shows any local user. Chromium may rewrite its process title (one
            # string joined by spaces instead of NUL-separated arguments), so search the text.
            stolen = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
            found = re.search(r"http://127\.0\.0\.1[^\s\x00]*", stolen)
            assert found is not None, "the URL the desktop passed is on the command line"
            leaked = found.group(0)
            assert local.token not in stolen
            code = leaked.split("#login=", 1)[1]
            base = leaked.split("/app/", 1)[0]
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{base}/auth/login", json={"code": code}) as resp:
                    assert resp.status == 401
                for guess in (code, leaked):
                    async with http.get(
                        f"{base}/api/status", headers={"Authorization": f"Bearer {guess}"}
                    ) as resp:
                        assert resp.status == 401
            # The same link in the attacker's own browser: told it was used, nothing more.
            thief = await (await browser.new_context(locale="en-US")).new_page()
            await thief.goto(leaked)
            await expect(thief.locator("#status")).to_contain_text("already used", timeout=15000)
            assert not await thief.locator("#dot.online").count()
            await owner.close()
    finally:
        proc.terminate()
        proc.wait(10)
