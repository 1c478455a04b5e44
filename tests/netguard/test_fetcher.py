"""The guarded fetcher, attacked: DNS rebinding, redirects into the LAN, CGNAT, wrapped IPv4.

No network here, so 127.0.0.2 plays the public internet (`public_stand_ins`) and 127.0.0.1 plays
the owner's PC/LAN; both servers listen on the same port, so a name that switches between them
is a real rebinding attack. Names resolve through a DNS the test controls (the fetcher's lookup
hook, which it calls at connect time, once per connection).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from netguard import (
    AddressPolicy,
    AddressRefused,
    FetchRefused,
    FetchTimeout,
    GuardedFetcher,
    NotText,
    SchemeRefused,
    TooLarge,
    TooManyRedirects,
    is_public,
)
from netguard.fetcher import _socket_factory

PUBLIC, PRIVATE = "127.0.0.2", "127.0.0.1"
Answer = str | Callable[[], web.Response]
POLICY = AddressPolicy(public_stand_ins=frozenset({PUBLIC}))


@dataclass
class Site:
    """One server on one address; records every path it was asked for."""

    host: str
    hits: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None

    async def start(self, port: int, routes: dict[str, Answer]) -> int:
        async def handle(request: web.Request) -> web.StreamResponse:
            self.hits.append(request.path_qs)
            answer = routes.get(request.path, "not found")
            if isinstance(answer, str):
                return web.Response(text=answer, content_type="text/html")
            return answer()  # a fresh response each time: aiohttp sends one only once

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, port)
        await site.start()
        return int(site._server.sockets[0].getsockname()[1])


@dataclass
class Dns:
    """A DNS the attacker controls: each name answers from a list, one entry per query."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)

    async def lookup(self, host: str, port: int, family: int) -> list[str]:
        self.queries.append(host)
        script = self.answers[host]
        return script.pop(0) if len(script) > 1 else script[0]


@pytest.fixture
async def sites() -> AsyncIterator[tuple[Site, Site, int]]:
    public, private = Site(PUBLIC), Site(PRIVATE)
    for _ in range(20):  # the same port on both addresses, so only the address differs
        port = await public.start(0, {})
        try:
            await private.start(port, {"/secret": "router admin password"})
            break
        except OSError:
            assert public.runner is not None
            await public.runner.cleanup()
    yield public, private, port
    for site in (public, private):
        if site.runner is not None:
            await site.runner.cleanup()


def redirect(to: str) -> Callable[[], web.Response]:
    return lambda: web.Response(status=302, headers={"Location": to})


async def restart(site: Site, port: int, routes: dict[str, Answer]) -> None:
    assert site.runner is not None
    await site.runner.cleanup()
    await site.start(port, routes)


async def test_dns_rebinding_never_reaches_the_private_address(sites) -> None:
    public, private, port = sites
    await restart(public, port, {"/": "public page", "/secret": "public page"})
    # First answer public (what a check-then-connect fetcher would have checked), then private.
    dns = Dns({"rebind.example": [[PUBLIC], [PRIVATE]]})
    fetcher = GuardedFetcher(policy=POLICY, lookup=dns.lookup, timeout_s=2)

    first = await fetcher.fetch(f"http://rebind.example:{port}/")
    assert first.text() == "public page"
    with pytest.raises(AddressRefused, match="not a public address"):
        await fetcher.fetch(f"http://rebind.example:{port}/secret")

    assert private.hits == [], "the rebinding name reached the private server"
    assert dns.queries == ["rebind.example", "rebind.example"], "one lookup per connection"


async def test_a_name_with_a_private_answer_among_public_ones_is_refused_whole(sites) -> None:
    public, private, port = sites
    dns = Dns({"split.example": [[PUBLIC, PRIVATE]]})
    fetcher = GuardedFetcher(policy=POLICY, lookup=dns.lookup, timeout_s=2)
    with pytest.raises(AddressRefused):
        await fetcher.fetch(f"http://split.example:{port}/secret")
    assert public.hits == [] and private.hits == []


@pytest.mark.parametrize(
    "target",
    [
        "http://{PRIVATE}:{port}/secret",
        "http://[::ffff:{PRIVATE}]:{port}/secret",
        "http://inside.example:{port}/secret",
        "http://2130706433:{port}/secret",  # 127.0.0.1 written as one number
        "file:///etc/passwd",
    ],
)
async def test_every_redirect_hop_is_checked(sites, target: str) -> None:
    public, private, port = sites
    location = target.format(PRIVATE=PRIVATE, port=port)
    await restart(public, port, {"/go": redirect(location)})
    dns = Dns({"public.example": [[PUBLIC]], "inside.example": [[PRIVATE]]})
    fetcher = GuardedFetcher(policy=POLICY, lookup=dns.lookup, timeout_s=2)
    with pytest.raises((AddressRefused, SchemeRefused, FetchRefused)):
        await fetcher.fetch(f"http://public.example:{port}/go")
    assert public.hits == ["/go"] and private.hits == []


async def test_public_redirects_are_followed_and_recorded(sites) -> None:
    public, _private, port = sites
    await restart(
        public,
        port,
        {"/a": redirect("/b"), "/b": redirect(f"http://{PUBLIC}:{port}/c"), "/c": "arrived"},
    )
    dns = Dns({"public.example": [[PUBLIC]]})
    page = await GuardedFetcher(policy=POLICY, lookup=dns.lookup).fetch(
        f"http://public.example:{port}/a"
    )
    assert page.text() == "arrived" and public.hits == ["/a", "/b", "/c"]
    assert page.hops[-1] == f"http://{PUBLIC}:{port}/c" and len(page.hops) == 3


async def test_redirect_loops_stop(sites) -> None:
    public, _private, port = sites
    await restart(public, port, {"/loop": redirect("/loop")})
    fetcher = GuardedFetcher(policy=POLICY, max_redirects=3)
    with pytest.raises(TooManyRedirects):
        await fetcher.fetch(f"http://{PUBLIC}:{port}/loop")
    assert len(public.hits) == 4


@pytest.mark.parametrize(
    "address",
    [
        "100.64.0.1",  # CGNAT (carrier-grade NAT): another customer's side of the ISP
        "100.127.255.254",
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "198.18.0.1",
        "192.0.2.1",
        "::1",
        "::",
        "fd00::1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "ff02::1",
    ],
)
async def test_non_public_addresses_are_refused_as_names_and_as_literals(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    dns = Dns({"evil.example": [[address]]})
    fetcher = GuardedFetcher(lookup=dns.lookup, timeout_s=2)
    with pytest.raises(AddressRefused):
        await fetcher.fetch("http://evil.example/")
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(AddressRefused):
        await fetcher.fetch(f"http://{literal}/")


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"])
def test_public_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_the_socket_factory_refuses_a_private_connect_as_the_last_line() -> None:
    make = _socket_factory(AddressPolicy())
    with pytest.raises(OSError, match="not allowed"):
        make((socket.AF_INET, socket.SOCK_STREAM, 6, "", (PRIVATE, 80)))
    make((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", 80))).close()


async def test_allow_private_is_the_users_choice(sites) -> None:
    _public, private, port = sites
    page = await GuardedFetcher(policy=AddressPolicy(allow_private=True)).fetch(
        f"http://{PRIVATE}:{port}/secret"
    )
    assert page.text() == "router admin password" and private.hits == ["/secret"]


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "javascript:alert(1)", "http:///x", "http://[::1/"]
)
async def test_only_http_and_https(url: str) -> None:
    with pytest.raises(SchemeRefused):
        await GuardedFetcher().fetch(url)


async def test_size_type_and_time_limits(sites) -> None:
    public, _private, port = sites

    await restart(
        public,
        port,
        {
            "/big": lambda: web.Response(text="x" * 300_000, content_type="text/plain"),
            "/bin": lambda: web.Response(body=b"\0" * 10, content_type="application/octet-stream"),
        },
    )
    base = f"http://{PUBLIC}:{port}"
    with pytest.raises(TooLarge):
        await GuardedFetcher(policy=POLICY, max_bytes=100_000).fetch(f"{base}/big")
    cut = await GuardedFetcher(policy=POLICY, max_bytes=100_000, truncate=True).fetch(f"{base}/big")
    assert cut.truncated and len(cut.body) == 100_000
    with pytest.raises(NotText):
        await GuardedFetcher(policy=POLICY).fetch(f"{base}/bin")


async def test_a_silent_server_times_out() -> None:
    listener = socket.socket()
    listener.bind((PUBLIC, 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        with pytest.raises(FetchTimeout):
            await GuardedFetcher(policy=POLICY, timeout_s=0.5).fetch(f"http://{PUBLIC}:{port}/")
    finally:
        listener.close()
