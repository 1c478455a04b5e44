"""Fetch a web page as text (MEDIUM), within size, time and content-type limits.

Addresses on this PC or the LAN (loopback, private, link-local) are refused unless
`[tools.web_fetch] allow_private = true`: a page's hidden instructions must not turn ORA into
a way to reach the owner's router or local services.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from app.policy.gate import Risk
from app.tools.spec import ToolContext, ToolFailure, ToolSpec

DEFAULT_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_TIMEOUT_S = 15.0
MAX_TEXT_CHARS = 50_000
TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/xhtml+xml",
    "application/rss+xml",
)


class _TextOnly(HTMLParser):
    """Visible text of an HTML document, without scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "noscript", "template"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "noscript", "template") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def html_to_text(html: str) -> str:
    """Readable text of an HTML page."""
    parser = _TextOnly()
    parser.feed(html)
    return "\n".join(parser.parts)


async def _check_host(host: str, allow_private: bool) -> None:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        raise ToolFailure(f"cannot resolve {host!r}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not allow_private and (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_reserved
        ):
            raise ToolFailure(
                f"{host} is an address on this PC or its network; fetching it is not allowed"
            )


async def _fetch(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    url = args["url"]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ToolFailure("only http:// and https:// addresses can be fetched")
    await _check_host(parts.hostname, bool(ctx.config.get("allow_private", False)))
    max_bytes = int(ctx.config.get("max_bytes", DEFAULT_MAX_BYTES))
    timeout = aiohttp.ClientTimeout(total=float(ctx.config.get("timeout_s", DEFAULT_TIMEOUT_S)))
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, allow_redirects=False, headers={"User-Agent": "ORA/0.1"}) as resp,
        ):
            if 300 <= resp.status < 400:
                return {
                    "url": url,
                    "status": resp.status,
                    "redirect_to": resp.headers.get("Location", ""),
                }
            ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if not ctype.startswith(TEXT_TYPES):
                raise ToolFailure(f"{url} is {ctype or 'of unknown type'}, not text; not fetched")
            body = bytearray()
            async for chunk in resp.content.iter_chunked(65536):
                body += chunk
                if len(body) > max_bytes:
                    raise ToolFailure(f"{url} is larger than {max_bytes // 1024} KB; stopped")
            text = body.decode(resp.charset or "utf-8", errors="replace")
    except TimeoutError:
        raise ToolFailure(f"{url} did not answer within {timeout.total:.0f} s") from None
    except aiohttp.ClientError as err:
        raise ToolFailure(f"could not fetch {url}: {type(err).__name__}") from None
    if "html" in ctype:
        text = html_to_text(text)
    return {
        "url": url,
        "status": resp.status,
        "text": text[:MAX_TEXT_CHARS],
        "truncated": len(text) > MAX_TEXT_CHARS,
    }


def tools() -> list[ToolSpec]:
    """web_fetch."""
    return [
        ToolSpec(
            name="web_fetch",
            description="Fetch a web page or text document and return its text",
            parameters={
                "type": "object",
                "properties": {"url": {"type": "string", "maxLength": 4096}},
                "required": ["url"],
                "additionalProperties": False,
            },
            risk=Risk.MEDIUM,
            handler=_fetch,
        )
    ]
