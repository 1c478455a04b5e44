"""The Cloud's one tool: fetch a public web page as text for the model.

The Cloud must not become a way into private networks (its own, or a cloud provider's
metadata address): an address written as an IP must be public, and every address a name
resolves to is checked at connection time by the resolver below, so a name that resolves to
a public address when checked and a private one when connecting (DNS rebinding) is refused
too; redirects are followed one hop at a time under the same checks.
"""

from __future__ import annotations

import html
import ipaddress
import re
import socket
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

MAX_BYTES = 512 * 1024
MAX_TEXT = 8000
TIMEOUT_S = 10.0
MAX_REDIRECTS = 5

SCHEMA: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "web_fetch",
        "description": "Fetch a public web page (http or https) and return its text.",
        "parameters": {
            "type": "object",
            "properties": {"url": {"type": "string", "description": "the page's address"}},
            "required": ["url"],
        },
    },
}


class FetchRefused(Exception):
    """The address is not a public http(s) page, or fetching it failed (message says why)."""


class PublicOnlyResolver(AbstractResolver):
    """Resolves names, and refuses any answer that is not a public address."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        for answer in answers:
            address = ipaddress.ip_address(answer["host"])
            if not self._allow_private and not address.is_global:
                raise FetchRefused(f"{host} is not a public address")
        return answers

    async def close(self) -> None:
        await self._inner.close()


def _check_url(url: str, allow_private: bool) -> None:
    """http(s) only; an address written as an IP literal (aiohttp does not resolve those, so
    the resolver never sees them) must be public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchRefused("only http and https addresses can be fetched")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return  # a name: PublicOnlyResolver checks what it resolves to
    if not allow_private and not address.is_global:
        raise FetchRefused(f"{parts.hostname} is not a public address")


async def fetch_text(url: str, *, allow_private: bool = False) -> str:
    """The page's text (tags stripped, truncated), or FetchRefused saying why not."""
    _check_url(url, allow_private)
    connector = aiohttp.TCPConnector(resolver=PublicOnlyResolver(allow_private))
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            # Redirects are followed here, so each hop's address is checked like the first.
            for _hop in range(MAX_REDIRECTS + 1):
                async with http.get(
                    url, allow_redirects=False, headers={"User-Agent": "ORA-Cloud"}
                ) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                        url = urljoin(str(resp.url), resp.headers["Location"])
                        _check_url(url, allow_private)
                        continue
                    body = await resp.content.read(MAX_BYTES)
                    if resp.status >= 400:
                        raise FetchRefused(f"the page answered HTTP {resp.status}")
                    charset = resp.charset or "utf-8"
                    break
            else:
                raise FetchRefused("too many redirects")
    except FetchRefused:
        raise
    except (aiohttp.ClientError, TimeoutError, OSError) as err:
        cause = err.__cause__ if isinstance(err.__cause__, FetchRefused) else None
        raise FetchRefused(str(cause) if cause else f"fetch failed: {type(err).__name__}") from None
    text = body.decode(charset, "replace")
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = html.unescape(re.sub(r"(?s)<[^>]+>", " ", text))
    return re.sub(r"\s+", " ", text).strip()[:MAX_TEXT]
