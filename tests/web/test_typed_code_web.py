"""Typed-code pairing in real Chromium, English and Japanese: the honest flow pairs; a Relay
answering for the Node is caught; wrong codes lock. Each refusal is said in the page's language."""

import asyncio
from typing import Any

import pytest
from playwright.async_api import expect

from app.link.relay_link import RelayLink
from protocol import code_pairing, e2ee, pairing
from protocol.encoding import b64u_decode, b64u_encode
from tests.relay.conftest import RelayProcess
from tests.support.lying_relay import Forward, Json, lying_relay
from tests.web.conftest import PHONE

pytestmark = pytest.mark.slow
SAYS = {
    "en-US": {
        "compare": "Check that your PC shows the same code",
        "wrong": "did not match your PC's",
        "locked": "locked after too many wrong attempts",
    },
    "ja-JP": {
        "compare": "PC に同じコードが表示されていることを確認",
        "wrong": "一致しなかった",
        "locked": "ロックされました",
    },
}


async def type_code(page: Any, code: str) -> None:
    await page.fill("#code", code)
    await page.click("#code-go")


@pytest.mark.parametrize("locale", ["en-US", "ja-JP"])
async def test_the_honest_typed_code_pairs_and_both_screens_agree(
    browser: Any, node: RelayLink, relay: RelayProcess, locale: str
) -> None:
    context = await browser.new_context(**PHONE, locale=locale)
    page = await context.new_page()
    await page.goto(f"{relay.url}/app/")
    compared: list[tuple[str, str]] = []

    async def owner_compares(code: str, name: str, role: str) -> bool:
        on_phone = await page.locator("#sas strong").text_content(timeout=5000)
        said = await page.locator("#sas").text_content() or ""
        compared.append((code, on_phone or ""))
        assert SAYS[locale]["compare"] in said
        return code == on_phone

    node.confirm_pairing = owner_compares
    code = await node.open_code_pairing()
    await asyncio.sleep(0.2)
    await type_code(page, code.lower())
    await expect(page.locator("#dot.online")).to_have_count(1, timeout=15000)
    assert len(compared) == 1 and compared[0][0] == compared[0][1]
    [device] = node.registry.all()
    assert device.public_key != node.identity.public_key
    await context.close()


@pytest.mark.parametrize("locale", ["en-US", "ja-JP"])
async def test_a_relay_answering_for_the_node_is_caught_and_the_user_told(
    browser: Any, node: RelayLink, relay: RelayProcess, locale: str
) -> None:
    """The Relay keeps the real Node out and answers the page's SPAKE2 message with its own
    key under a guessed code: the page refuses, says so, and sends nothing more."""
    node.confirm_pairing = None
    code = await node.open_code_pairing()
    _, mitm_pub = e2ee.generate_keypair()

    async def answer_for_the_node(body: Json, forward: Forward) -> tuple[int, Json]:
        forged, _ = code_pairing.node_reply(
            typed=pairing.new_code(),
            device_message=b64u_decode(body["pake"]),
            pairing_id=body["pairing_id"],
            node_id=node.identity.node_id,
            node_public_key=mitm_pub,
            secret=pairing.new_secret(),
        )
        return 200, {"reply": b64u_encode(forged)}

    async with lying_relay(relay.url) as evil:
        evil.post_hooks["/v1/pair/code"] = answer_for_the_node
        context = await browser.new_context(**PHONE, locale=locale)
        page = await context.new_page()
        await page.goto(f"{evil.url}/app/")
        await type_code(page, code)
        await expect(page.locator(".status.error")).to_contain_text(
            SAYS[locale]["wrong"], timeout=15000
        )
        await asyncio.sleep(0.5)
        assert [p for p, _ in evil.seen_posts] == ["/v1/pair/code"], "no request followed"
        assert await page.locator("#sas").is_hidden()
        await context.close()
    assert node.registry.all() == []


@pytest.mark.parametrize("locale", ["en-US", "ja-JP"])
async def test_wrong_codes_lock_the_pairing_and_the_page_says_so(
    browser: Any, node: RelayLink, relay: RelayProcess, locale: str
) -> None:
    node.confirm_pairing = None
    code = pairing.normalize_code(await node.open_code_pairing())
    wrong = code[:6] + ("2" if code[6] != "2" else "3") + code[7:]
    context = await browser.new_context(**PHONE, locale=locale)
    page = await context.new_page()
    await page.goto(f"{relay.url}/app/")
    error = page.locator(".status.error")
    for _ in range(code_pairing.MAX_CODE_ATTEMPTS):
        await type_code(page, wrong)
        await expect(error).to_contain_text(SAYS[locale]["wrong"], timeout=15000)
        await page.evaluate("document.getElementById('status').textContent = ''")
    await type_code(page, code)
    await expect(error).to_contain_text(SAYS[locale]["locked"], timeout=15000)
    assert node.registry.all() == []
    await context.close()
