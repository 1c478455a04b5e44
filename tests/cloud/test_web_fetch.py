"""The Cloud's web fetch: the model reads a page through the worker, both rounds are billed;
a private address is refused (the Cloud is no way into anyone's network)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from protocol import app_messages as am
from protocol import cloud
from tests.support.fake_openai import FakeOpenAI, Reply

pytestmark = pytest.mark.slow
PAGE_MARKER = "opening-hours-nine-to-five"


@pytest.fixture
async def page_server() -> AsyncIterator[tuple[str, list[str]]]:
    hits: list[str] = []

    async def page(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(
            text=f"<html><script>x()</script><body><h1>Shop</h1><p>{PAGE_MARKER}</p></body></html>",
            content_type="text/html",
        )

    app = web.Application()
    app.router.add_get("/shop", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/shop", hits
    await runner.cleanup()


async def test_the_model_fetches_a_page_and_both_rounds_are_billed(
    relay_factory,
    worker_factory,
    owner_factory,
    cloud_relay_env,
    fake_openai: FakeOpenAI,
    page_server: tuple[str, list[str]],
) -> None:
    url, hits = page_server
    relay = relay_factory(**cloud_relay_env)
    # Loopback stands in for the public web here; production workers never set this.
    worker_factory(relay, ORA_CLOUD_WEB_FETCH="1", ORA_CLOUD_FETCH_ALLOW_PRIVATE="1")
    owner = await owner_factory(relay)
    phone = await owner.device()
    await phone.cloud_handshake()
    fake_openai.script.extend(
        [Reply(tool_calls=[("web_fetch", {"url": url})]), Reply(text="It opens at nine.")]
    )

    _, text, other = await phone.cloud_chat("when does the shop open?")

    assert text == "It opens at nine." and hits == ["/shop"]
    assert fake_openai.requests[0]["tools"][0]["function"]["name"] == "web_fetch"
    tool_result = fake_openai.requests[1]["messages"][-1]
    assert tool_result["role"] == "tool" and PAGE_MARKER in tool_result["content"]
    assert "x()" not in tool_result["content"], "scripts are not page text"
    activity = [(x.status, x.detail) for x in other if isinstance(x, am.ToolActivity)]
    assert activity == [("started", "127.0.0.1"), ("done", "127.0.0.1")]
    receipt = next(x for x in other if isinstance(x, cloud.CloudReceipt))
    # Two prompts were sent (the second carries the page), so input is well above one prompt.
    assert receipt.charged and receipt.tokens_in > 2 * 10


async def test_private_addresses_are_refused(
    relay_factory,
    worker_factory,
    owner_factory,
    cloud_relay_env,
    fake_openai: FakeOpenAI,
    page_server: tuple[str, list[str]],
) -> None:
    url, hits = page_server
    relay = relay_factory(**cloud_relay_env)
    worker_factory(relay, ORA_CLOUD_WEB_FETCH="1")
    owner = await owner_factory(relay)
    phone = await owner.device()
    await phone.cloud_handshake()
    fake_openai.script.extend(
        [
            Reply(tool_calls=[("web_fetch", {"url": url})]),
            Reply(tool_calls=[("web_fetch", {"url": "file:///etc/passwd"})]),
            Reply(text="I could not read those."),
        ]
    )

    _, text, other = await phone.cloud_chat("read my router's page")

    assert text == "I could not read those." and hits == []
    results = [m["content"] for m in fake_openai.requests[-1]["messages"] if m["role"] == "tool"]
    assert "not a public address" in results[0]
    assert "only http and https" in results[1]
    assert [x.status for x in other if isinstance(x, am.ToolActivity)].count("refused") == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # a cloud provider's metadata service
        "http://10.0.0.1/",
        "http://192.168.1.1/admin",
        "http://[::1]:8080/",
        "http://127.0.0.1:22/",
        "ftp://example.com/file",
        "javascript:alert(1)",
    ],
)
async def test_unsafe_addresses_are_refused_before_any_connection(url: str) -> None:
    from cloud_worker.web_fetch import FetchRefused, fetch_text

    with pytest.raises(FetchRefused):
        await fetch_text(url)
