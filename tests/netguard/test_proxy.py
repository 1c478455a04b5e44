"""The guarded proxy (the browser's only way out), attacked over raw sockets: DNS rebinding,
tunnels into the LAN, wrapped IPv4, and a kept-alive connection reused for another host.

Same stage as test_fetcher: 127.0.0.2 plays the public internet, 127.0.0.1 the owner's LAN,
both on one port, names answered by a DNS the test controls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from netguard.proxy import GuardedProxy
from tests.netguard.test_fetcher import POLICY, PRIVATE, PUBLIC, Dns, restart
from tests.netguard.test_fetcher import sites as sites  # the fixture


@pytest.fixture
async def dns() -> Dns:
    return Dns(
        {
            "rebind.example": [[PUBLIC], [PRIVATE]],
            "public.example": [[PUBLIC]],
            "split.example": [[PUBLIC, PRIVATE]],
            "localhost": [[PRIVATE]],
        }
    )


@pytest.fixture
async def proxy(dns: Dns) -> AsyncIterator[tuple[GuardedProxy, list[tuple[str, str]]]]:
    refused: list[tuple[str, str]] = []
    p = GuardedProxy(POLICY, dns.lookup, on_refused=lambda url, why: refused.append((url, why)))
    await p.start()
    yield p, refused
    await p.close()


async def exchange(proxy: GuardedProxy, raw: str, *, then: str = "") -> bytes:
    """Send `raw` to the proxy (and `then` once it answered); everything it sends back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(raw.encode())
    await writer.drain()
    if then:
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(then.encode())
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return first + rest
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


def get(url: str, host: str) -> str:
    return f"GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n"


async def test_a_rebinding_name_is_refused_where_the_proxy_connects(sites, proxy, dns) -> None:
    public, private, port = sites
    await restart(public, port, {"/": "public page", "/secret": "public page"})
    p, refused = proxy
    url = f"http://rebind.example:{port}"
    first = await exchange(p, get(f"{url}/", f"rebind.example:{port}"))
    assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"public page")
    second = await exchange(p, get(f"{url}/secret", f"rebind.example:{port}"))
    assert second.startswith(b"HTTP/1.1 403") and b"not a public address" in second
    assert private.hits == [] and public.hits == ["/"]
    assert [u for u, _ in refused] == [f"{url}/secret"]
    assert dns.queries == ["rebind.example", "rebind.example"], "one lookup per request"


@pytest.mark.parametrize(
    "target",
    ["{PRIVATE}:{port}", "[::ffff:{PRIVATE}]:{port}", "split.example:{port}", "localhost:{port}"],
)
async def test_tunnels_into_the_lan_are_refused(sites, proxy, target: str) -> None:
    _public, private, port = sites
    p, refused = proxy
    where = target.format(PRIVATE=PRIVATE, port=port)
    answer = await exchange(p, f"CONNECT {where} HTTP/1.1\r\nHost: {where}\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403"), answer[:40]
    assert private.hits == [] and [u for u, _ in refused] == [where]


async def test_a_public_tunnel_carries_bytes_both_ways(sites, proxy) -> None:
    public, _private, port = sites
    await restart(public, port, {"/t": "through the tunnel"})
    p, _ = proxy
    answer = await exchange(
        p,
        f"CONNECT public.example:{port} HTTP/1.1\r\nHost: public.example:{port}\r\n\r\n",
        then="GET /t HTTP/1.1\r\nHost: public.example\r\nConnection: close\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 200 Connection Established\r\n\r\nHTTP/1.1 200")
    assert answer.endswith(b"through the tunnel") and public.hits == ["/t"]


async def test_a_posted_body_goes_through_and_nothing_after_it(sites, proxy) -> None:
    public, private, port = sites
    await restart(public, port, {"/form": "thanks"})
    p, _ = proxy
    post = (
        f"POST http://public.example:{port}/form HTTP/1.1\r\nHost: public.example:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\n\r\nq=cat"
    )
    # Bytes after the body (a second request, for the LAN) are never forwarded.
    answer = await exchange(p, post + get(f"http://{PRIVATE}:{port}/secret", PRIVATE))
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"thanks")
    assert public.hits == ["/form"] and private.hits == []


async def test_a_kept_alive_connection_never_carries_a_second_host(sites, proxy) -> None:
    public, private, port = sites
    await restart(public, port, {"/": "public page"})
    p, _ = proxy
    # The client asks to keep the connection and sends a request for the LAN right after: the
    # proxy marks the answer `Connection: close` and ends the connection with the exchange.
    answer = await exchange(
        p,
        get(f"http://public.example:{port}/", f"public.example:{port}"),
        then=get(f"http://{PRIVATE}:{port}/secret", f"{PRIVATE}:{port}"),
    )
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    assert b"connection: close" in head and b"keep-alive" not in head
    assert answer.count(b"HTTP/1.1") == 1 and private.hits == [] and public.hits == ["/"]


async def test_the_proxy_is_not_a_web_server(proxy) -> None:
    p, _ = proxy
    for raw in (
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET ftp://x/ HTTP/1.1\r\n\r\n",
        "hello\r\n\r\n",
    ):
        assert (await exchange(p, raw)).startswith(b"HTTP/1.1 400")
    # Asking the proxy for itself is asking for loopback: refused like any other.
    loop = f"http://127.0.0.1:{p.port}/"
    assert (await exchange(p, get(loop, f"127.0.0.1:{p.port}"))).startswith(b"HTTP/1.1 403")
