"""The browser obeys web fetch's address rules, in real Chromium: a page on the public web
(127.0.0.2 plays it) cannot make the owner's browser reach this PC or the LAN (127.0.0.1 plays
it) by navigation, redirect, subresource, fetch, iframe, form or WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from app.policy.gate import Profile, Role
from app.tools import browser
from app.tools.browser import BrowserPool
from app.tools.spec import ToolContext, ToolFailure
from netguard import AddressPolicy

pytestmark = pytest.mark.slow
PUBLIC, PRIVATE = "127.0.0.2", "127.0.0.1"


async def serve(host: str, routes: dict[str, Any], hits: list[str]) -> tuple[web.AppRunner, str]:
    async def handle(request: web.Request) -> web.StreamResponse:
        hits.append(request.path_qs)
        if request.path == "/ws":
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    hits.append("ws:" + msg.data)
            return ws
        answer = routes.get(request.path, "<html><body>ok</body></html>")
        if callable(answer):
            return answer()
        return web.Response(text=answer, content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0)
    await site.start()
    return runner, f"http://{host}:{site._server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def lan() -> AsyncIterator[tuple[str, list[str]]]:
    hits: list[str] = []
    runner, base = await serve(PRIVATE, {"/": "<html><title>Router</title>admin</html>"}, hits)
    yield base, hits
    await runner.cleanup()


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


async def open_page(ctx: ToolContext, url: str) -> dict[str, Any]:
    spec = next(t for t in browser.tools() if t.name == "browser_open")
    return await spec.handler(ctx, {"url": url})


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[BrowserPool]:
    p = BrowserPool(
        tmp_path / "browser",
        # Not local_only: its resolver rules would hide 127.0.0.2 too.
        policy=AddressPolicy(public_stand_ins=frozenset({PUBLIC})),
    )
    yield p
    await p.close()


async def test_opening_a_lan_address_is_refused(tmp_path: Path, pool: BrowserPool, lan) -> None:
    base, hits = lan
    ctx = ctx_for(tmp_path, pool)
    for url in (f"{base}/", f"http://[::ffff:127.0.0.1]:{base.rsplit(':', 1)[1]}/"):
        with pytest.raises(ToolFailure, match="not allowed"):
            await open_page(ctx, url)
    assert hits == []


async def test_a_public_page_cannot_reach_the_lan_through_the_browser(
    tmp_path: Path, pool: BrowserPool, lan
) -> None:
    base, lan_hits = lan
    public_hits: list[str] = []
    attack = f"""<html><head><title>Innocent</title>
<link rel="stylesheet" href="{base}/css"></head><body>
<img src="{base}/img"><img src="/go"><iframe src="{base}/frame"></iframe>
<form id="f" action="{base}/form" method="post"><input name="x" value="1"></form>
<p id="done">page</p>
<script>
fetch("{base}/fetch").catch(() => {{}});
try {{ const ws = new WebSocket("{base.replace("http", "ws")}/ws");
  ws.onopen = () => ws.send("hello"); }} catch (e) {{}}
navigator.sendBeacon && navigator.sendBeacon("{base}/beacon", "x");
</script></body></html>"""
    runner, public = await serve(
        PUBLIC,
        {
            "/attack": attack,
            "/go": lambda: web.Response(status=302, headers={"Location": f"{base}/redirected"}),
            "/nav": f'<html><script>location.href = "{base}/navigated";</script></html>',
            "/submit": f"""<html><form id="f" action="{base}/posted" method="post">
<input name="x" value="1"></form><script>document.getElementById("f").submit();</script></html>""",
        },
        public_hits,
    )
    ctx = ctx_for(tmp_path, pool)
    try:
        page = await open_page(ctx, f"{public}/attack")
        assert page["title"] == "Innocent"  # the public page itself works
        # A script's navigation, a form posted by script, a redirect into the LAN.
        for path in ("/nav", "/submit", "/go"):
            try:
                await open_page(ctx, f"{public}{path}")
            except ToolFailure:
                pass
        await asyncio.sleep(1.0)  # give scripts, beacons and sockets time to try
    finally:
        await runner.cleanup()
    assert lan_hits == [], f"the LAN server was reached: {lan_hits}"
    assert {"/attack", "/go", "/nav", "/submit"} <= set(public_hits)
    refused = [u for u, _ in pool.refused]
    assert any(u.endswith("/img") for u in refused) and any("/ws" in u for u in refused)
    assert public_hits.count("/go") >= 2, "the image's redirect was followed by the guard"


async def test_allowing_private_addresses_is_the_users_choice(tmp_path: Path, lan) -> None:
    base, hits = lan
    p = BrowserPool(tmp_path / "b", allow_private=True, local_only=True)
    try:
        page = await open_page(ctx_for(tmp_path, p), f"{base}/")
        assert page["title"] == "Router" and hits == ["/"]
    finally:
        await p.close()
