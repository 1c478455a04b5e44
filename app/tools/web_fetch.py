"""Fetch a web page as text (MEDIUM), within size, time and content-type limits.

Fetching goes through `netguard`, the guarded fetcher the Cloud uses too: addresses on this PC
or the LAN (loopback, private, link-local, CGNAT...) are refused at connect time, redirects
included, unless `[tools.web_fetch] allow_private = true`: a page's hidden instructions must not
turn ORA into a way to reach the owner's router or local services.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from app.policy.gate import Risk
from app.policy.taint import Outbound, ToolFlow
from app.tools.spec import ToolContext, ToolFailure, ToolSpec
from netguard import AddressPolicy, FetchRefused, GuardedFetcher
from netguard.fetcher import check_url

DEFAULT_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_TIMEOUT_S = 15.0
MAX_TEXT_CHARS = 50_000


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


def fetcher_for(ctx: ToolContext) -> GuardedFetcher:
    """The guarded fetcher with this profile's limits and address choice."""
    lookup = ctx.extras.get("dns_lookup")  # tests plug their own DNS in; None: the system's
    return GuardedFetcher(
        policy=AddressPolicy(allow_private=bool(ctx.config.get("allow_private", False))),
        lookup=lookup if callable(lookup) else None,
        timeout_s=float(ctx.config.get("timeout_s", DEFAULT_TIMEOUT_S)),
        max_bytes=int(ctx.config.get("max_bytes", DEFAULT_MAX_BYTES)),
        user_agent="ORA/0.1",
    )


async def _fetch(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    url = args["url"]
    try:
        page = await fetcher_for(ctx).fetch(url)
    except FetchRefused as err:
        raise ToolFailure(str(err)) from None
    text = page.text()
    if "html" in page.content_type:
        text = html_to_text(text)
    result: dict[str, Any] = {
        "url": page.url,
        "status": page.status,
        "text": text[:MAX_TEXT_CHARS],
        "truncated": len(text) > MAX_TEXT_CHARS,
    }
    if len(page.hops) > 1:
        result["redirected_from"] = list(page.hops[:-1])
    return result


async def _precheck(ctx: ToolContext, args: dict[str, Any]) -> None:
    """The scheme and an IP-literal address are refused before anyone is asked."""
    try:
        check_url(args["url"], fetcher_for(ctx).policy)
    except FetchRefused as err:
        raise ToolFailure(str(err)) from None


async def outbound(ctx: ToolContext, args: dict[str, Any]) -> Outbound:
    """A fetch sends its whole URL (host, path and query can all carry data)."""
    return Outbound(destination=args["url"])


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
            flow=ToolFlow(untrusted=True, sends_out=True),
            precheck=_precheck,
            outbound=outbound,
        )
    ]
