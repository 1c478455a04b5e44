"""Pair a phone by QR and chat, in real Chromium on a phone viewport, through a real Relay."""

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import qrcode
from playwright.async_api import expect

from app.link.relay_link import RelayLink
from tests.relay.conftest import RelayProcess
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.web.conftest import PHONE

pytestmark = pytest.mark.slow
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def decode_qr(url: str, tmp_path: Path) -> str:
    """Render the Node's pairing URL as a QR image and read it back with a real decoder."""
    path = tmp_path / "pair-qr.png"
    qrcode.make(url).save(path)
    out = subprocess.run(
        ["zbarimg", "--raw", "-q", "--nodbus", str(path)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    return out.stdout.strip()


async def send(page: Any, text: str) -> None:
    await page.fill("#input", text)
    await page.click("#send")


async def test_scan_pair_chat_and_stay_paired_across_reload(
    tmp_path: Path, browser: Any, node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    _, url = await node.open_pairing()
    scanned = decode_qr(url, tmp_path)
    assert scanned == url
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    pair_posts: list[str] = []
    page.on("request", lambda r: pair_posts.append(r.url) if r.url.endswith("/v1/pair") else None)
    await page.goto(scanned)
    await page.wait_for_selector("#dot.online", timeout=15000)
    assert "#" not in page.url, "the pairing secret must leave the address bar"
    assert len(pair_posts) == 1
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "web-1-paired-en.png"))

    fake_openai.script.append(
        Reply(
            text="You have two meetings today: 10:00 design review and 15:00 1:1.",
            chunk_delay_s=0.02,
        )
    )
    await send(page, "What is on my calendar today?")
    reply = page.locator(".msg.ora").last
    await reply.wait_for(timeout=15000)
    partial = await reply.text_content()
    # The page's CSP forbids eval, so waits use locators rather than JS predicates.
    await expect(reply).to_have_text(re.compile(r"1:1\.$"), timeout=15000)
    assert partial != await reply.text_content() or partial.endswith("1:1."), (
        "the reply should arrive in pieces"
    )
    await page.screenshot(path=str(SHOTS / "web-2-chat-en.png"))

    # Reload: still paired (keys and tokens in IndexedDB), and the next message goes through.
    await page.reload()
    await page.wait_for_selector("#dot.online", timeout=15000)
    fake_openai.script.append(Reply(text="Still here after a reload."))
    await send(page, "are you still there?")
    await expect(page.locator(".msg.ora", has_text="Still here after a reload.")).to_have_count(
        1, timeout=15000
    )
    assert len(pair_posts) == 1, "a reload must not pair again"
    cookies = await context.cookies()
    assert cookies == [] and "ora_" not in page.url, "tokens live in IndexedDB only"
    await context.close()


async def test_japanese_ui_follows_the_browser_language(
    tmp_path: Path, browser: Any, node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    _, url = await node.open_pairing()
    context = await browser.new_context(**PHONE, locale="ja-JP")
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_selector("#dot.online", timeout=15000)
    assert await page.get_attribute("html", "lang") == "ja"
    assert await page.text_content("#send") == "送信"
    fake_openai.script.append(Reply(text="はい、今日の予定は二件です。"))
    await send(page, "今日の予定は？")
    await expect(page.locator(".msg.ora").last).to_have_text(
        "はい、今日の予定は二件です。", timeout=15000
    )
    await page.screenshot(path=str(SHOTS / "web-2-chat-ja.png"))
    await context.close()


async def test_a_link_naming_another_relay_gets_nothing(
    browser: Any, node: RelayLink, relay: RelayProcess
) -> None:
    _, url = await node.open_pairing()
    crafted = url.replace("r=http%3A%2F%2F127.0.0.1", "r=http%3A%2F%2Fevil.example")
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/v1/" in r.url else None)
    await page.goto(crafted)
    await page.wait_for_selector(".status.error", timeout=10000)
    assert "different Relay" in (await page.text_content("#status") or "")
    assert sent == [], "nothing may be sent for a link naming another Relay"
    await context.close()


async def test_revocation_from_the_node_ends_the_browser_session(
    browser: Any, node: RelayLink, relay: RelayProcess
) -> None:
    _, url = await node.open_pairing()
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_selector("#dot.online", timeout=15000)
    device = node.devices()[0]
    await node.revoke(device.device_id)
    await page.wait_for_selector(".status.error", timeout=2000)
    assert "revoked" in (await page.text_content("#status") or "")
    await page.screenshot(path=str(SHOTS / "web-3-revoked-en.png"))
    await context.close()


async def test_pair_by_typed_code_after_comparing_codes(
    browser: Any, node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    compared: list[tuple[str, str]] = []

    async def owner_compares(code: str, name: str, role: str) -> bool:
        on_phone = await page.text_content("#sas strong") or ""
        await page.screenshot(path=str(SHOTS / "web-0-code-en.png"))
        compared.append((code, on_phone))
        return code == on_phone

    node.confirm_pairing = owner_compares
    code = await node.open_code_pairing()
    await page.goto(f"{relay.url}/app/")
    await page.fill("#code", code.lower())
    await page.click("#code-go")
    await expect(page.locator("#dot.online")).to_have_count(1, timeout=20000)
    assert compared and compared[0][0] == compared[0][1]
    fake_openai.script.append(Reply(text="paired without a camera"))
    await send(page, "hello")
    await expect(page.locator(".msg.ora").last).to_have_text(
        "paired without a camera", timeout=15000
    )
    await context.close()


async def test_owner_approves_another_devices_request_in_the_browser(
    browser: Any, node: RelayLink, relay: RelayProcess, fake_openai: FakeOpenAI
) -> None:
    import asyncio

    from app.policy.gate import Risk
    from app.tools.spec import ToolSpec
    from tests.support.device_client import Device

    sent: list[str] = []

    async def send_mail(ctx: Any, args: dict[str, Any]) -> dict[str, Any]:
        sent.append(args["to"])
        return {"sent": True}

    node.runtime.registry.add(
        ToolSpec(
            name="mail_send",
            description="Send an email",
            parameters={"type": "object", "properties": {"to": {"type": "string"}}},
            risk=Risk.HIGH,
            handler=send_mail,
        )
    )
    _, url = await node.open_pairing()
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    await page.goto(url)
    await expect(page.locator("#dot.online")).to_have_count(1, timeout=15000)

    _, url = await node.open_pairing()
    tablet = Device(relay.url, name="tablet")
    await tablet.pair(url)
    await tablet.connect()
    fake_openai.script += [
        Reply(tool_calls=[("mail_send", {"to": "boss@example.com"})]),
        Reply(text="Mail sent."),
    ]
    chat = asyncio.create_task(tablet.chat("mail my boss"))
    card = page.locator(".card.approval")
    await expect(card).to_contain_text("mail_send", timeout=15000)
    await expect(card).to_contain_text("boss@example.com")
    await page.screenshot(path=str(SHOTS / "web-4-approval-en.png"))
    await card.locator("button.approve").click()
    _, text, _ = await asyncio.wait_for(chat, 15)
    assert text == "Mail sent." and sent == ["boss@example.com"]
    await expect(page.locator(".card.approval")).to_have_count(0, timeout=5000)
    await tablet.close()
    await context.close()
