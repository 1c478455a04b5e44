"""The web client's per-device notifications switch, in real Chromium against a real Relay, a
real Node and a real push service (web-push-testing).

`pushManager.subscribe` cannot reach a vendor push service here (no network in tests), so the browser's
subscription is made on the server side, at the real push service, and handed to the page in
place of what `subscribe` would return; everything after it (the page's calls, the Relay
keeping it, the push when an approval waits, turning it off) is the real thing.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import expect

from tests.relay.conftest import RelayProcess
from tests.relay.test_push_events import (
    ask,
    devices_notified,
    push_env,
    push_service,  # noqa: F401
    received,
    start_node,
    wait_for,
)
from tests.support.fake_openai import FakeOpenAI
from tests.support.push_testing import PushService
from tests.web.conftest import PHONE

pytestmark = pytest.mark.slow

# What the page gets from navigator.serviceWorker.getRegistration(): a registration whose
# pushManager hands out the subscription the test made at the real push service.
SUBSCRIPTION_FROM_SERVER = """
(() => {
  const sub = %s;
  const reg = { pushManager: {
    subscribe: async () => ({ toJSON: () => sub, unsubscribe: async () => true }),
    getSubscription: async () => ({ toJSON: () => sub, unsubscribe: async () => true }),
  } };
  Object.defineProperty(navigator.serviceWorker, "getRegistration", { value: async () => reg });
})();
"""


async def paired_page(browser: Any, url: str, locale: str, origin: str) -> tuple[Any, Any]:
    context = await browser.new_context(**PHONE, locale=locale)
    await context.grant_permissions(["notifications"], origin=origin)
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_selector("#dot.online", timeout=15000)
    return context, page


async def test_the_owner_turns_notifications_on_and_off_on_this_device(
    tmp_path: Path,
    browser: Any,
    relay_factory,
    fake_openai: FakeOpenAI,
    push_service: PushService,  # noqa: F811
) -> None:
    relay: RelayProcess = relay_factory("relay", **push_env(tmp_path, push_service))
    link = await start_node(tmp_path, fake_openai, relay.url)
    async with aiohttp.ClientSession() as http, http.get(f"{relay.url}/v1/push/key") as r:
        key = (await r.json())["application_server_key"]
    sub = push_service.subscribe(key)
    _, url = await link.open_pairing()
    context, page = await paired_page(browser, url, "en-US", relay.url)
    await page.add_init_script(
        SUBSCRIPTION_FROM_SERVER % json.dumps({"endpoint": sub["endpoint"], "keys": sub["keys"]})
    )
    await page.reload()
    await page.wait_for_selector("#dot.online", timeout=15000)

    await page.click("#tab-devices")
    await expect(page.locator("#push-state")).to_have_text("Off", timeout=10000)
    await page.click("#push-toggle")
    await expect(page.locator("#push-state")).to_have_text(
        "On: approvals and alerts reach this device even when ORA is closed.", timeout=10000
    )
    [device_id] = await devices_notified(link, relay)

    req = ask(link)
    [push] = await wait_for(push_service, str(sub["clientHash"]), 1)
    assert push["kind"] == "approval_waiting" and push["ids"]["approval_id"] == req.approval_id

    await page.click("#lang")  # 日本語
    await expect(page.locator("#push-toggle")).to_have_text("オフにする")
    await page.click("#push-toggle")
    await expect(page.locator("#push-state")).to_have_text("オフ", timeout=10000)
    assert await devices_notified(link, relay) == []
    ask(link)
    await asyncio.sleep(1.0)
    assert len(received(push_service, str(sub["clientHash"]))) == 1
    assert device_id
    await context.close()
    await link.stop()
    await link.runtime.close()


@pytest.mark.parametrize(
    ("locale", "message"),
    [
        ("en-US", "This browser cannot receive notifications for ORA here"),
        ("ja-JP", "このブラウザーでは ORA の通知を受け取れません"),
    ],
)
async def test_a_browser_that_cannot_receive_pushes_is_told_so_in_its_language(
    tmp_path: Path,
    browser: Any,
    relay_factory,
    fake_openai: FakeOpenAI,
    push_service: PushService,  # noqa: F811
    locale: str,
    message: str,
) -> None:
    relay: RelayProcess = relay_factory("relay", **push_env(tmp_path, push_service))
    link = await start_node(tmp_path, fake_openai, relay.url)
    _, url = await link.open_pairing()
    context, page = await paired_page(browser, url, locale, relay.url)
    # This copy is not the signed, installed client: no service worker, so no push.
    assert await page.evaluate("() => navigator.serviceWorker.getRegistration()") is None
    await page.click("#tab-devices")
    await page.click("#push-toggle")
    await expect(page.locator("#status")).to_contain_text(message, timeout=10000)
    assert await devices_notified(link, relay) == []
    await context.close()
    await link.stop()
    await link.runtime.close()
