"""The guarded fetcher: every connection goes to an address checked at connect time.

Three places check, so no path connects unchecked:
- a URL whose host is an IP literal is checked before the request (aiohttp never resolves those);
- names are resolved by `GuardedResolver`, once per connection, and aiohttp connects to exactly
  the answers it returns, each of which was checked (no DNS cache: a second request resolves and
  checks again, so a rebinding name cannot reuse an old answer);
- the socket factory checks the very address being connected, as the last line.
Redirects are followed here, hop by hop, each hop a new request under the same checks.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from netguard.addresses import AddressPolicy, parse_address
from netguard.errors import (
    AddressRefused,
    FetchFailed,
    FetchRefused,
    FetchTimeout,
    NotText,
    SchemeRefused,
    TooLarge,
    TooManyRedirects,
)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/xhtml+xml",
    "application/rss+xml",
)

# (host, port, family) -> the IP addresses the name has now. Tests plug in their own DNS here.
Lookup = Callable[[str, int, int], Awaitable[list[str]]]


async def system_lookup(host: str, port: int, family: int) -> list[str]:
    """The operating system's resolver."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
    except OSError:
        raise FetchFailed(f"cannot resolve {host!r}") from None
    return [str(info[4][0]) for info in infos]


class GuardedResolver(AbstractResolver):
    """Resolves a name once and refuses the whole answer if any address in it is not allowed."""

    def __init__(self, policy: AddressPolicy, lookup: Lookup | None = None) -> None:
        self._policy = policy
        self._lookup = lookup or system_lookup

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Every address `host` has now, each checked; any refused address refuses the host."""
        answers = await self._lookup(host, port, int(family))
        results: list[ResolveResult] = []
        for text in answers:
            address = parse_address(text)
            # A name that answers with a private address beside public ones is a rebinding
            # attempt (or a split-horizon name): refuse it whole rather than pick.
            if address is None or not self._policy.permits(address):
                raise AddressRefused(self._policy.refusal(host))
            results.append(
                {
                    "hostname": host,
                    "host": str(address),
                    "port": port,
                    "family": socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        if not results:
            raise FetchFailed(f"cannot resolve {host!r}")
        return results

    async def close(self) -> None:
        """Nothing to release."""


class _ConnectRefused(OSError):
    """Raised by the socket factory; aiohttp reports OSErrors as connection failures."""


def _socket_factory(policy: AddressPolicy) -> Callable[[Any], socket.socket]:
    def make(addr_info: Any) -> socket.socket:
        family, kind, proto, _canon, sockaddr = addr_info
        address = parse_address(str(sockaddr[0]))
        if address is None or not policy.permits(address):
            raise _ConnectRefused(policy.refusal(str(sockaddr[0])))
        return socket.socket(family=family, type=kind, proto=proto)

    return make


def check_url(url: str, policy: AddressPolicy) -> tuple[str, int]:
    """http(s) only, with a host; an IP-literal host must be allowed. Returns (host, port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SchemeRefused("that is not a valid web address") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SchemeRefused("only http and https addresses can be fetched")
    address = parse_address(parts.hostname)
    if address is not None and not policy.permits(address):
        raise AddressRefused(policy.refusal(parts.hostname))
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True, kw_only=True)
class Fetched:
    """What a fetch brought back."""

    url: str  # the last hop's address
    status: int
    content_type: str
    charset: str
    body: bytes
    truncated: bool
    hops: tuple[str, ...]  # every address requested, the first included

    def text(self) -> str:
        """The body decoded with the page's charset (utf-8 when it names none)."""
        try:
            return self.body.decode(self.charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


@dataclass(kw_only=True)
class GuardedFetcher:
    """Fetch a URL under the address policy, following redirects hop by hop."""

    policy: AddressPolicy = field(default_factory=AddressPolicy)
    lookup: Lookup | None = None
    timeout_s: float = 15.0
    max_bytes: int = 2 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = "ORA"
    accept_types: tuple[str, ...] | None = TEXT_TYPES  # None accepts any type
    truncate: bool = False  # past max_bytes: cut the body (True) or refuse (False)

    def connector(self) -> aiohttp.TCPConnector:
        """A connector that resolves through the guard and connects only to checked addresses."""
        return aiohttp.TCPConnector(
            resolver=GuardedResolver(self.policy, self.lookup),
            use_dns_cache=False,
            socket_factory=_socket_factory(self.policy),
            force_close=True,
        )

    async def fetch(self, url: str) -> Fetched:
        """GET `url`; every refusal or failure is a FetchRefused subclass saying why."""
        check_url(url, self.policy)
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        hops = [url]
        try:
            async with aiohttp.ClientSession(
                connector=self.connector(), timeout=timeout, trust_env=False
            ) as http:
                for _hop in range(self.max_redirects + 1):
                    async with http.get(
                        url, allow_redirects=False, headers={"User-Agent": self.user_agent}
                    ) as resp:
                        location = resp.headers.get("Location")
                        if resp.status in REDIRECT_STATUSES and location:
                            url = urljoin(str(resp.url), location)
                            check_url(url, self.policy)
                            hops.append(url)
                            continue
                        return await self._read(resp, url, hops)
                raise TooManyRedirects(f"more than {self.max_redirects} redirects; stopped")
        except FetchRefused:
            raise
        except TimeoutError:
            raise FetchTimeout(f"{url} did not answer within {self.timeout_s:.0f} s") from None
        except (aiohttp.ClientError, OSError) as err:
            raise _explain(err, url) from None

    async def _read(self, resp: aiohttp.ClientResponse, url: str, hops: list[str]) -> Fetched:
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if self.accept_types is not None and not ctype.startswith(self.accept_types):
            raise NotText(f"{url} is {ctype or 'of unknown type'}, not text; not fetched")
        body = bytearray()
        truncated = False
        async for chunk in resp.content.iter_chunked(65536):
            body += chunk
            if len(body) > self.max_bytes:
                if not self.truncate:
                    raise TooLarge(f"{url} is larger than {self.max_bytes // 1024} KB; stopped")
                truncated = True
                del body[self.max_bytes :]
                break
        return Fetched(
            url=url,
            status=resp.status,
            content_type=ctype,
            charset=resp.charset or "utf-8",
            body=bytes(body),
            truncated=truncated,
            hops=tuple(hops),
        )


def _explain(err: BaseException, url: str) -> FetchRefused:
    """Find our own refusal inside aiohttp's wrapping, or name the failure."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, FetchRefused):
            return seen
        if isinstance(seen, _ConnectRefused):
            return AddressRefused(str(seen))
        for inner in getattr(seen, "exceptions", ()):  # happy eyeballs' ExceptionGroup-like
            found = _explain(inner, url)
            if not isinstance(found, FetchFailed):
                return found
        seen = getattr(seen, "os_error", None) or seen.__cause__ or seen.__context__
    return FetchFailed(f"could not fetch {url}: {type(err).__name__}")
