"""A Relay that lies: a proxy in front of a real Relay, with the attacker's hooks per HTTP path.

A hook gets the device's JSON body and a `forward(body)` that asks the real Relay; it returns
(status, JSON body) for the device. Pages and WebSockets pass through; every binary frame the
device sends is kept (`frames_up`) so a test can say what reached whom.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.relay.conftest import free_port

Json = dict[str, Any]
Forward = Callable[[Json], Awaitable[tuple[int, Json]]]
Hook = Callable[[Json, Forward], Awaitable[tuple[int, Json]]]


@dataclass
class LyingRelay:
    """The proxy's state: where it forwards, what it attacks, what it saw."""

    upstream: str
    post_hooks: dict[str, Hook] = field(default_factory=dict)
    get_hooks: dict[str, Callable[[], Awaitable[tuple[int, Json]]]] = field(default_factory=dict)
    frames_up: list[bytes] = field(default_factory=list)
    seen_posts: list[tuple[str, Json]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _forward_post(self, path: str, body: Json) -> tuple[int, Json]:
        async with aiohttp.ClientSession() as http, http.post(self.upstream + path, json=body) as r:
            return r.status, await r.json()

    async def post(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.seen_posts.append((request.path, body))
        hook = self.post_hooks.get(request.path)

        async def forward(b: Json) -> tuple[int, Json]:
            return await self._forward_post(request.path, b)

        status, data = await (hook(body, forward) if hook else forward(body))
        return web.json_response(data, status=status)

    async def get(self, request: web.Request) -> web.Response:
        hook = self.get_hooks.get(request.path)
        if hook is not None:
            status, data = await hook()
            return web.json_response(data, status=status)
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
                        self.frames_up.append(msg.data)
                        await relay.send_bytes(msg.data)

            async def down() -> None:
                async for msg in relay:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        await client.send_str(msg.data)
                    elif msg.type == aiohttp.WSMsgType.BINARY:
                        await client.send_bytes(msg.data)

            await asyncio.wait(
                [asyncio.create_task(up()), asyncio.create_task(down())],
                return_when=asyncio.FIRST_COMPLETED,
            )
        return client


@asynccontextmanager
async def lying_relay(upstream: str) -> AsyncIterator[LyingRelay]:
    """Run a LyingRelay on a free loopback port for the duration of the block."""
    proxy = LyingRelay(upstream=upstream, port=free_port())
    app = web.Application()
    app.router.add_get("/v1/ws", proxy.ws)
    app.router.add_post("/{tail:.*}", proxy.post)
    app.router.add_get("/{tail:.*}", proxy.get)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", proxy.port).start()
    try:
        yield proxy
    finally:
        await runner.cleanup()
