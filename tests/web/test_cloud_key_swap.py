"""A Relay that swaps the Cloud's key, in real Chromium: the page refuses, says why in its
language, and nothing reaches the key the Relay holds (no frame is even addressed to the Cloud).
"""

import asyncio
import dataclasses
import json
import time
from typing import Any

import aiohttp
import pytest
from nacl.signing import SigningKey
from playwright.async_api import expect

from protocol import cloud, cloud_key, e2ee
from protocol import messages as m
from protocol.encoding import b64u_encode
from tests.cloud.conftest import (  # noqa: F401
    cloud_keys,
    cloud_relay_env,
    owner_factory,
)
from tests.support.fake_openai import FakeOpenAI
from tests.support.lying_relay import lying_relay
from tests.web.conftest import PHONE

pytestmark = pytest.mark.slow
SAYS = {"en-US": "not signed by ORA", "ja-JP": "ORA の署名付きではなかった"}


def swapped_key_answer(attack: str, fake_pub: bytes, honest: dict[str, Any]) -> dict[str, Any]:
    """What the lying Relay serves at /v1/cloud/key."""
    body = {"public_key": b64u_encode(fake_pub), "peer_id": cloud.CLOUD_PEER_ID, "available": True}
    if attack == "unsigned":
        return {**body, "statement": None}
    if attack == "signed_by_the_relay":
        own_release = SigningKey.generate()
        return {
            **body,
            "statement": cloud_key.sign(bytes(own_release), fake_pub, time.time() + 1e6),
        }
    # The honest signature, with the payload's key replaced by the Relay's.
    honest_st = honest["statement"]
    payload = json.loads(honest_st["payload"])
    payload["public_key"] = b64u_encode(fake_pub)
    return {**body, "statement": {**honest_st, "payload": json.dumps(payload)}}


@pytest.mark.parametrize(
    "locale,attack",
    [
        ("en-US", "unsigned"),
        ("ja-JP", "signed_by_the_relay"),
        ("en-US", "honest_signature_other_key"),
    ],
)
async def test_a_swapped_cloud_key_is_refused_and_nothing_is_sent_to_it(
    browser: Any,
    relay_factory,
    owner_factory,  # noqa: F811
    cloud_relay_env,  # noqa: F811
    fake_openai: FakeOpenAI,
    locale: str,
    attack: str,
) -> None:
    relay = relay_factory(**cloud_relay_env)
    # No worker needed: the page must refuse before anything is addressed to the Cloud.
    owner = await owner_factory(relay)
    fake_private, fake_pub = e2ee.generate_keypair()  # the key holder the Relay hopes to feed
    async with lying_relay(relay.url) as evil:
        honest: dict[str, Any] = {}

        async def swap() -> tuple[int, dict[str, Any]]:
            async with aiohttp.ClientSession() as http, http.get(relay.url + "/v1/cloud/key") as r:
                honest.update(await r.json())
            return 200, swapped_key_answer(attack, fake_pub, honest)

        evil.get_hooks["/v1/cloud/key"] = swap
        invite, _ = await owner.link.open_pairing()
        url = dataclasses.replace(invite, relay_url=evil.url).to_url(f"{evil.url}/app/")
        context = await browser.new_context(**PHONE, locale=locale)
        page = await context.new_page()
        await page.goto(url)
        await page.wait_for_selector("#dot.online", timeout=15000)
        await page.click("#target")
        await page.click("#cloud-yes")
        await expect(page.locator(".status.error")).to_contain_text(SAYS[locale], timeout=10000)
        await page.fill("#input", "my secret plan for the Cloud")
        await page.click("#send")
        await asyncio.sleep(1.0)
        await expect(page.locator(".status.error")).to_contain_text(SAYS[locale])
        await context.close()
    to_cloud = [f for f in evil.frames_up if m.unpack_frame(f)[1] == cloud.CLOUD_PEER_ID]
    assert to_cloud == [], "not one frame was addressed to the Cloud under the swapped key"
    assert fake_openai.requests == [], "nothing ran anywhere"
    assert fake_private  # held by the attacker, and never given anything to open
