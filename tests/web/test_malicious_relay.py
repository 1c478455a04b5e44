"""A malicious Relay (a proxy in front of the real one) can neither pair nor replay."""

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import expect

from app.link.relay_link import RelayLink
from protocol import e2ee, pairing
from protocol.encoding import b64u_encode
from protocol.tokens import new_token
from tests.relay.conftest import RelayProcess, free_port
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.web.conftest import PHONE

pytestmark = pytest.mark.slow


@dataclasses.dataclass
class EvilProxy:
    """Serves the page and forwards to the real Relay, except where it attacks."""

    upstream: str
    forge_pairing: bool = False
    replay_frames: bool = False
    port: int = 0
    replayed: int = 0

    async def page(self, request: web.Request) -> web.Response:
        async with (
            aiohttp.ClientSession() as http,
            http.get(self.upstream + request.path_qs) as resp,
        ):
            body = await resp.read()
            headers = {
                k: v
                for k, v in resp.headers.items()
                if k in ("Content-Type", "Content-Security-Policy")
            }
            return web.Response(body=body, status=resp.status, headers=headers)

    async def post(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.forge_pairing and request.path == "/v1/pair":
            # The Relay cannot read the sealed request, so it answers with a box from its own
            # key, hoping the device accepts it as the Node.
            own, _ = e2ee.generate_keypair()
            _, victim = e2ee.generate_keypair()
            forged = pairing.seal_answer(
                node_private_key=own,
                device_public_key=victim,
                answer={"pairing_id": body["pairing_id"]},
            )
            return web.json_response(
                {
                    "device_id": str(uuid.uuid4()),
                    "node_id": str(uuid.uuid4()),
                    "role": "owner",
                    "access_token": new_token("at"),
                    "refresh_token": new_token("rt"),
                    "expires_in": 900,
                    "answer": b64u_encode(forged),
                }
            )
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.upstream + request.path, json=body) as resp,
        ):
            return web.json_response(await resp.json(), status=resp.status)

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        client = web.WebSocketResponse(max_msg_size=0)
        await client.prepare(request)
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(self.upstream + "/v1/ws", max_msg_size=0) as relay,
        ):

            async def up() -> None:
                async for msg in client:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        await relay.send_str(msg.data)
                    elif msg.type == aiohttp.WSMsgType.BINARY:
                        await relay.send_bytes(msg.data)
                        if self.replay_frames and msg.data[17:18] == bytes([e2ee.DATA]):
                            await relay.send_bytes(msg.data)  # a captured frame, sent again
                            self.replayed += 1

            async def down() -> None:
                async for msg in relay:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        await client.send_str(msg.data)
                    elif msg.type == aiohttp.WSMsgType.BINARY:
                        await client.send_bytes(msg.data)
                        if self.replay_frames and msg.data[17:18] == bytes([e2ee.DATA]):
                            await client.send_bytes(msg.data)
                            self.replayed += 1

            await asyncio.wait(
                [asyncio.create_task(up()), asyncio.create_task(down())],
                return_when=asyncio.FIRST_COMPLETED,
            )
        return client


@pytest.fixture
async def evil(relay: RelayProcess) -> AsyncIterator[EvilProxy]:
    proxy = EvilProxy(upstream=relay.url, port=free_port())
    app = web.Application()
    app.router.add_get("/v1/ws", proxy.ws)
    app.router.add_post("/v1/pair", proxy.post)
    app.router.add_post("/v1/token/refresh", proxy.post)
    app.router.add_get("/app/{tail:.*}", proxy.page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", proxy.port).start()
    yield proxy
    await runner.cleanup()


async def invite_via(node: RelayLink, proxy: EvilProxy) -> str:
    invite, _ = await node.open_pairing()
    origin = f"http://127.0.0.1:{proxy.port}"
    return dataclasses.replace(invite, relay_url=origin).to_url(f"{origin}/app/")


async def test_replayed_frames_are_refused_both_ways(
    browser: Any, node: RelayLink, evil: EvilProxy, fake_openai: FakeOpenAI
) -> None:
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    await page.goto(await invite_via(node, evil))
    await expect(page.locator("#dot.online")).to_have_count(1, timeout=15000)
    evil.replay_frames = True
    fake_openai.script += [
        Reply(text="Transferred 10 yen, once."),
        Reply(text="SHOULD NEVER BE SENT"),
    ]
    await page.fill("#input", "transfer 10 yen")
    await page.click("#send")
    await expect(page.locator(".msg.ora").last).to_have_text(
        "Transferred 10 yen, once.", timeout=15000
    )
    await asyncio.sleep(1)
    assert evil.replayed >= 2, "the proxy really replayed frames"
    assert len(fake_openai.requests) == 1, "a replayed request must not run twice"
    assert await page.locator(".msg.ora").count() == 1
    await expect(page.locator(".msg.ora").last).to_have_text("Transferred 10 yen, once.")
    await context.close()


# After the replay test: run before it (same browser, fresh Relay, Node and context), the
# replay test's answer never showed, for a reason not found yet (see the closing note of
# 2026-11-30); each passes on its own.
async def test_a_relay_forging_the_nodes_answer_cannot_pair(
    browser: Any, node: RelayLink, evil: EvilProxy
) -> None:
    evil.forge_pairing = True
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    await page.goto(await invite_via(node, evil))
    await expect(page.locator(".status.error")).to_contain_text(
        "did not come from the Node", timeout=10000
    )
    assert node.registry.all() == [], "the Node accepted nothing"
    await context.close()
