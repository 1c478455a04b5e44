"""Who is asking (the real client address) and how often they may (sliding-window limits).

The client address is the TCP peer, unless that peer is a configured trusted proxy: then the
`X-Forwarded-For` chain is read from the right, skipping trusted proxies, and the first
address not trusted is the client. A header from anyone else is ignored, so a client cannot
pick its own address by writing the header.

Limits key on that address, IPv6 by its /64 (one subscriber usually holds a whole /64, so
counting single addresses there would give them 2^64 tries). Each key holds the times of its
recent attempts; keys whose attempts are all older than the window are dropped, and the table
never holds more than `max_keys` (the least recently used key goes first), so a flood of
addresses cannot grow it without bound.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(specs: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs or single addresses (e.g. "10.0.0.0/8", "::1") as networks."""
    return tuple(ipaddress.ip_network(s.strip(), strict=False) for s in specs if s.strip())


def _address(text: str) -> Address | None:
    try:
        addr = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
    return addr


def _trusted(addr: Address, proxies: tuple[Network, ...]) -> bool:
    return any(addr.version == net.version and addr in net for net in proxies)


def client_address(request: web.BaseRequest, proxies: tuple[Network, ...]) -> str:
    """The client's address as text ("?" when unknown)."""
    peer = _address(request.remote or "")
    if peer is None:
        return "?"
    if not proxies or not _trusted(peer, proxies):
        return str(peer)
    hops: list[str] = []
    for header in request.headers.getall("X-Forwarded-For", []):
        hops.extend(h for h in header.split(","))
    for hop in reversed(hops):
        addr = _address(hop)
        if addr is None:
            break  # a malformed hop: trust nothing further left (it was written by the client)
        if not _trusted(addr, proxies):
            return str(addr)
        peer = addr
    return str(peer)  # only trusted proxies in the chain: the leftmost of them


def rate_key(address: str) -> str:
    """What a limit counts: an IPv4 address, or the /64 an IPv6 address belongs to."""
    addr = _address(address)
    if isinstance(addr, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(addr) >> 64 << 64, 64)))
    return str(addr) if addr is not None else address


class RateLimiter:
    """At most `limit` attempts per key within `window_s` seconds, in a bounded table."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.max_keys = max_keys
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._hits)

    def _expire(self, now: float) -> None:
        # Least recently used first: stop at the first key still inside its window.
        while self._hits:
            key, hits = next(iter(self._hits.items()))
            if hits and now - hits[-1] < self.window_s:
                break
            del self._hits[key]

    def allow(self, address: str) -> bool:
        """Count one attempt from this client; False (not counted) once over the limit."""
        now = self._clock()
        self._expire(now)
        key = rate_key(address)
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        else:
            self._hits.move_to_end(key)
        while hits and now - hits[0] >= self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            return False
        hits.append(now)
        return True

    def retry_after(self, address: str) -> float:
        """Seconds until this client may try again (0 when it may now)."""
        hits = self._hits.get(rate_key(address))
        if not hits or len(hits) < self.limit:
            return 0.0
        return max(0.0, self.window_s - (self._clock() - hits[0]))


class AcceptRate:
    """New connections a second, with a burst (a token bucket; rate 0: unlimited)."""

    def __init__(self, per_s: float, burst: int) -> None:
        self.per_s = per_s
        self.burst = float(max(burst, 1))
        self._allowance = self.burst
        self._at = time.monotonic()
        self._next_slot = 0.0  # the last come-back time handed out

    def take(self) -> float:
        """0 when one more connection may start now, else when to come back (seconds).

        Each refused client is given the next free slot at the configured rate, not all the
        same "1 s": a herd told to come back together would be refused together again (a
        client that can read Retry-After keeps to it; a browser cannot see it and backs off
        on its own)."""
        if self.per_s <= 0:
            return 0.0
        now = time.monotonic()
        self._allowance = min(self.burst, self._allowance + (now - self._at) * self.per_s)
        self._at = now
        if self._allowance >= 1.0:
            self._allowance -= 1.0
            return 0.0
        self._next_slot = max(self._next_slot, now + (1.0 - self._allowance) / self.per_s)
        self._next_slot += 1.0 / self.per_s
        return self._next_slot - now
