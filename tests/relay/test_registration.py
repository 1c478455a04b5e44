"""Registering Nodes is free, so it is rate-limited per client address, and that address is
the real one: X-Forwarded-For is believed only from a configured proxy, IPv6 counts by /64."""

from __future__ import annotations

import aiohttp
import pytest

from protocol.encoding import b64u_encode
from relay_server.rate_limit import RateLimiter, rate_key
from tests.relay.conftest import RelayProcess

pytestmark = pytest.mark.slow
KEY = b64u_encode(bytes(32))


async def register(
    relay: RelayProcess, forwarded_for: str | None = None
) -> tuple[int, dict[str, str]]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{relay.url}/v1/nodes", json={"public_key": KEY}, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def test_a_registration_loop_is_refused_after_the_limit(relay_factory) -> None:
    relay = relay_factory("limited", ORA_RELAY_NODE_REGISTRATIONS_PER_HOUR="3")
    for _ in range(3):
        status, body = await register(relay)
        assert status == 200 and body["node_id"]
    # The attacker keeps looping, and writes a new X-Forwarded-For each time: no proxy is
    # trusted here, so the header changes nothing.
    for i in range(5):
        status, body = await register(relay, forwarded_for=f"203.0.113.{i}")
        assert status == 429 and body["error"] == "rate_limited"
        assert "too many" in body["message"]


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(relay_factory) -> None:
    relay = relay_factory(
        "proxied",
        ORA_RELAY_NODE_REGISTRATIONS_PER_HOUR="2",
        ORA_RELAY_TRUSTED_PROXIES="127.0.0.1/32",
    )
    # Behind the proxy (the test connects from 127.0.0.1), each client counts on its own...
    for client in ("198.51.100.7", "198.51.100.8"):
        for _ in range(2):
            assert (await register(relay, forwarded_for=client))[0] == 200
        assert (await register(relay, forwarded_for=client))[0] == 429
    # ...and a client cannot hide behind a forged hop on the left: the proxy appends the
    # address it saw, and that is the one counted.
    status, _ = await register(relay, forwarded_for="10.9.9.9, 198.51.100.7")
    assert status == 429
    # IPv6 counts by /64: addresses in one /64 share a limit, another /64 has its own.
    assert (await register(relay, forwarded_for="2001:db8:1:2::1"))[0] == 200
    assert (await register(relay, forwarded_for="2001:db8:1:2:ffff::9"))[0] == 200
    assert (await register(relay, forwarded_for="2001:db8:1:2:abcd::5"))[0] == 429
    assert (await register(relay, forwarded_for="2001:db8:1:3::1"))[0] == 200


def test_rate_limit_entries_expire_and_the_table_is_bounded() -> None:
    now = [1000.0]
    limiter = RateLimiter(2, 60.0, max_keys=100, clock=lambda: now[0])
    assert limiter.allow("192.0.2.1") and limiter.allow("192.0.2.1")
    assert not limiter.allow("192.0.2.1")
    assert 0 < limiter.retry_after("192.0.2.1") <= 60
    now[0] += 61
    assert limiter.allow("192.0.2.1"), "the window passed: allowed again"
    # A flood of addresses (an attacker walking an IPv4 block) never grows the table past
    # its bound, and old entries go once their window has passed.
    for i in range(5000):
        limiter.allow(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
        assert len(limiter) <= 100
    now[0] += 61
    limiter.allow("192.0.2.99")
    assert len(limiter) == 1
    assert rate_key("2001:db8::1") == rate_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert rate_key("::ffff:192.0.2.1") == "192.0.2.1"
