"""A Relay the test controls: a proxy in front of a real Relay that forwards everything (HTTP,
the page, WebSockets) and lets the test drop, hold, change or inject frames as a lying Relay
would. It never holds a key, so all it can do is what a compromised Relay can do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from tests.relay.conftest import free_port

# Given a binary frame, what to forward instead: [] drops it, [a, b] sends both.
Rewrite = Callable[[bytes], list[bytes]]


@dataclass
class ProxyRelay:
    """Forwards to `upstream`; `up`/`down` rewrite binary frames device->Relay / Relay->device."""

    upstream: str
    port: int = field(default_factory=free_port)
    up: Rewrite | None = None
    down: Rewrite | None = None
    down_text: Callable[[str], str] | None = None  # rewrites the Relay's control messages
    # Every binary frame the clients sent, as sent (what a Relay can record and replay).
    captured_up: list[bytes] = field(default_factory=list)
    _clients: list[web.WebSocketResponse] = field(default_factory=list)
    _uplinks: list[aiohttp.ClientWebSocketResponse] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def inject_up(self, frame: bytes) -> None:
        """Send a frame to the real Relay as if the (latest) client had sent it."""
        await self._uplinks[-1].send_bytes(frame)

    async def inject_down_text(self, text: str) -> None:
        """Send a control message to the (latest) client as if the Relay had said it."""
        await self._clients[-1].send_str(text)

    async def _http(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/v1/ws":
            return await self._ws(request)
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                request.method,
                self.upstream + request.path_qs,
                data=await request.read(),
                headers={
                    k: v for k, v in request.headers.items() if k.lower() in ("content-type",)
                },
            ) as resp,
        ):
            body = await resp.read()
            keep = ("Content-Type", "Content-Security-Policy", "Cache-Control")
            headers = {k: v for k, v in resp.headers.items() if k in keep}
            return web.Response(body=body, status=resp.status, headers=headers)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        client = web.WebSocketResponse(max_msg_size=0)
        await client.prepare(request)
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(self.upstream + "/v1/ws", max_msg_size=0) as relay,
        ):
            self._clients.append(client)
            self._uplinks.append(relay)

            async def pump_up() -> None:
                async for msg in client:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        await relay.send_str(msg.data)
                    elif msg.type == aiohttp.WSMsgType.BINARY:
                        self.captured_up.append(msg.data)
                        for out in self.up(msg.data) if self.up else [msg.data]:
                            await relay.send_bytes(out)

            async def pump_down() -> None:
                async for msg in relay:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        text = self.down_text(msg.data) if self.down_text else msg.data
                        await client.send_str(text)
                    elif msg.type == aiohttp.WSMsgType.BINARY:
                        for out in self.down(msg.data) if self.down else [msg.data]:
                            await client.send_bytes(out)

            tasks = [asyncio.create_task(pump_up()), asyncio.create_task(pump_down())]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
        await client.close()
        return client


@asynccontextmanager
async def proxy_relay(upstream: str) -> AsyncIterator[ProxyRelay]:
    """Run a ProxyRelay on loopback for the duration of the block."""
    proxy = ProxyRelay(upstream=upstream)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy._http)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", proxy.port).start()
    try:
        yield proxy
    finally:
        await runner.cleanup()


def is_data(frame: bytes) -> bool:
    """A routing frame carrying a sealed session frame (not a handshake)."""
    return len(frame) > 17 and frame[17] == 0x03


def is_hs1(frame: bytes) -> bool:
    return len(frame) > 17 and frame[17] == 0x01


def drop_first_data() -> Rewrite:
    """A rewrite that drops the first sealed session frame it sees and passes the rest."""
    dropped: list[bytes] = []

    def rewrite(frame: bytes) -> list[bytes]:
        if is_data(frame) and not dropped:
            dropped.append(frame)
            return []
        return [frame]

    return rewrite


def flip_first_data(proxy: ProxyRelay, direction: str) -> Rewrite:
    """A rewrite that flips one bit of the first sealed frame, then stops (unhooks itself)."""

    def rewrite(frame: bytes) -> list[bytes]:
        if not is_data(frame):
            return [frame]
        setattr(proxy, direction, None)
        return [frame[:-1] + bytes([frame[-1] ^ 1])]

    return rewrite
