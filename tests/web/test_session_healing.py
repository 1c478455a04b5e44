"""In Chromium, through a Relay the test controls: a dropped message is shown as not delivered
and the session heals; a Relay that says "revoked" gets a warning, not the device's keys; an
incompatible Relay gets "update needed"; and the honest path still works."""

import asyncio
import dataclasses
import json
from typing import Any

import pytest
from playwright.async_api import expect

from app.link.relay_link import RelayLink
from tests.relay.conftest import RelayProcess
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.relay_proxy import ProxyRelay, drop_first_data, proxy_relay
from tests.web.conftest import PHONE

pytestmark = pytest.mark.slow


async def _paired_page(browser: Any, node: RelayLink, proxy: ProxyRelay, locale: str) -> Any:
    invite, _ = await node.open_pairing()
    url = dataclasses.replace(invite, relay_url=proxy.url).to_url(f"{proxy.url}/app/")
    context = await browser.new_context(**PHONE, locale=locale)
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_selector("#dot.online", timeout=20000)
    return page


async def _send(page: Any, text: str) -> None:
    await page.fill("#input", text)
    await page.click("#send")


@pytest.mark.parametrize("locale", ["en-US", "ja-JP"])
async def test_a_dropped_message_is_shown_as_not_delivered_and_the_session_heals(
    browser: Any, node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI, locale: str
) -> None:
    async with proxy_relay(relay.url) as proxy:
        page = await _paired_page(browser, node, proxy, locale)
        proxy.up = drop_first_data()
        await _send(page, "this one is lost")
        await asyncio.sleep(0.3)
        await _send(page, "this one arrives out of order")
        lost = page.locator(".msg.me", has_text="this one is lost")
        await expect(lost).to_have_attribute("data-delivery", "undelivered", timeout=15000)
        note = "Not delivered" if locale == "en-US" else "届いていません"
        await expect(page.locator(".undelivered-note").first).to_contain_text(note)
        # Never shown as delivered, and the page heals by itself: a new handshake.
        await page.wait_for_selector("#dot.online", timeout=20000)
        fake_openai.script.append(Reply(text="healed"))
        await _send(page, "and now?")
        ok = page.locator(".msg.me", has_text="and now?")
        await expect(ok).to_have_attribute("data-delivery", "delivered", timeout=20000)
        await expect(page.locator(".msg.ora", has_text="healed")).to_have_count(1, timeout=20000)
        await expect(lost).to_have_attribute("data-delivery", "undelivered")
        await page.context.close()


async def test_a_relay_that_says_revoked_gets_a_warning_and_the_device_keeps_its_keys(
    browser: Any, node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    async with proxy_relay(relay.url) as proxy:
        page = await _paired_page(browser, node, proxy, "en-US")
        await proxy.inject_down_text(json.dumps({"type": "revoked", "reason": "trust me"}))
        await expect(page.locator("#status")).to_contain_text("your PC has not said so")
        assert await page.locator("#welcome").is_hidden(), "the device did not unpair itself"
        # The PC still lists it, and once the lie stops the same keys work.
        assert node.registry.active(node.devices()[0].device_id) is not None
        await page.reload()
        await page.wait_for_selector("#dot.online", timeout=20000)
        fake_openai.script.append(Reply(text="still paired"))
        await _send(page, "hello")
        await expect(page.locator(".msg.ora", has_text="still paired")).to_have_count(
            1, timeout=20000
        )
        await page.context.close()


async def test_only_the_node_can_unpair_the_device(
    browser: Any, node: RelayLink, relay: RelayProcess
) -> None:
    async with proxy_relay(relay.url) as proxy:
        page = await _paired_page(browser, node, proxy, "en-US")
        await node.revoke(node.devices()[0].device_id)
        await page.wait_for_selector("#welcome:not(.hidden)", timeout=10000)
        await expect(page.locator("#status")).to_contain_text("revoked by the owner")
        await page.reload()
        await page.wait_for_selector("#welcome:not(.hidden)", timeout=10000)  # keys are gone
        await page.context.close()


async def test_a_relay_of_another_protocol_major_version_gets_update_needed(
    browser: Any, node: RelayLink, relay: RelayProcess
) -> None:
    async with proxy_relay(relay.url) as proxy:
        page = await _paired_page(browser, node, proxy, "en-US")

        def newer(text: str) -> str:
            body = json.loads(text)
            if body.get("type") == "welcome":
                body["version"] = "9.0.0"
            return json.dumps(body)

        proxy.down_text = newer
        await page.reload()
        await expect(page.locator("#status")).to_contain_text("Update needed", timeout=20000)
        await expect(page.locator("#dot")).to_have_class("dot offline")
        # The Relay's own refusal says the same.
        proxy.down_text = None
        await page.reload()
        await page.wait_for_selector("#dot.online", timeout=20000)
        await proxy.inject_down_text(
            json.dumps({"type": "error", "code": "update_required", "message": "protocol 0.1"})
        )
        await expect(page.locator("#status")).to_contain_text("Update needed")
        await page.context.close()
