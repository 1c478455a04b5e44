"""The Cloud's one tool: fetch a public web page as text for the model.

The Cloud must not become a way into private networks (its own, or a cloud provider's
metadata address). Fetching goes through `netguard`, the guarded fetcher the Node uses too:
every address is checked at connect time (DNS rebinding included) and redirects are followed
one hop at a time under the same checks.
"""

from __future__ import annotations

import html
import re
from typing import Any

from netguard import AddressPolicy, FetchRefused, GuardedFetcher

__all__ = ["SCHEMA", "FetchRefused", "fetch_text"]

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


async def fetch_text(url: str, *, allow_private: bool = False) -> str:
    """The page's text (tags stripped, truncated), or FetchRefused saying why not."""
    fetcher = GuardedFetcher(
        policy=AddressPolicy(allow_private=allow_private),
        timeout_s=TIMEOUT_S,
        max_bytes=MAX_BYTES,
        max_redirects=MAX_REDIRECTS,
        user_agent="ORA-Cloud",
        truncate=True,
    )
    page = await fetcher.fetch(url)
    if page.status >= 400:
        raise FetchRefused(f"the page answered HTTP {page.status}")
    text = page.text()
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = html.unescape(re.sub(r"(?s)<[^>]+>", " ", text))
    return re.sub(r"\s+", " ", text).strip()[:MAX_TEXT]
