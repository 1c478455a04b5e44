"""Browser automation with Playwright and Chromium.

Reading (open, read, screenshot) is MEDIUM; acting in a page (click, type, submit) is HIGH,
because the page may be a logged-in session. Each ORA profile keeps its own persistent browser
profile, and inside it each user has their own: a guest never sees the owner's cookies.
Chromium starts on first use and stops with the Node.

The browser obeys the same address rules as web fetch (netguard): every request the pages make
(navigations, subresources, form posts, WebSockets) is intercepted, its host resolved through
the guarded resolver, and refused when any address is not public, unless
`[tools.browser] allow_private = true`. Every browser tool's result is untrusted content, and
navigating, clicking, typing and submitting can send data out (taint rule, app/policy/taint.py):
in a turn that read a page, the owner sees the exact URL, form target and fields first.
"""

from __future__ import annotations

import asyncio
import html
import logging
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from app.policy.gate import Risk, Role
from app.policy.taint import Outbound, ToolFlow
from app.tools.files import roots
from app.tools.spec import ToolContext, ToolFailure, ToolSpec
from netguard import AddressPolicy, FetchRefused, GuardedResolver
from netguard.addresses import parse_address
from netguard.fetcher import check_url

_LOGGER = logging.getLogger(__name__)
DEFAULT_EXECUTABLE = "/usr/lib/chromium/chromium"
# A closed network and no phoning home: these flags bring DNS lookups to zero.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NAV_TIMEOUT_MS = 15_000
ACTION_TIMEOUT_MS = 5_000
MAX_TEXT_CHARS = 30_000
MAX_REDIRECTS = 5


class BrowserPool:
    """One persistent browser context per (role, user) of a profile, started lazily."""

    def __init__(
        self,
        profile_dir: Path,
        executable: str = DEFAULT_EXECUTABLE,
        *,
        local_only: bool = False,
        allow_private: bool = False,
        policy: AddressPolicy | None = None,
    ) -> None:
        self.profile_dir = profile_dir
        self.executable = executable
        self.local_only = local_only
        self.policy = policy or AddressPolicy(allow_private=allow_private)
        self._resolver = GuardedResolver(self.policy)
        self.refused: list[tuple[str, str]] = []  # (url, why) of requests the guard stopped
        self._playwright: Any = None
        self._contexts: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    def user_dir(self, ctx: ToolContext) -> Path:
        """The browser profile folder of this caller."""
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in ctx.user_id)[:64] or "_"
        if ctx.role is Role.OWNER:
            return self.profile_dir / "owner"
        return self.profile_dir / "guests" / f"{ctx.role.value}-{safe}"

    async def page(self, ctx: ToolContext) -> Any:
        """The caller's page, starting Chromium if needed."""
        async with self._lock:
            key = str(self.user_dir(ctx))
            context = self._contexts.get(key)
            if context is None:
                if self._playwright is None:
                    from playwright.async_api import async_playwright

                    self._playwright = await async_playwright().start()
                args = list(CHROMIUM_ARGS)
                if self.local_only:
                    args.append("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1")
                await asyncio.to_thread(Path(key).mkdir, parents=True, exist_ok=True)
                try:
                    context = await self._playwright.chromium.launch_persistent_context(
                        key, executable_path=self.executable, headless=True, args=args
                    )
                except Exception as err:
                    raise ToolFailure(
                        f"the browser could not start ({type(err).__name__}); is Chromium installed?"
                    ) from None
                context.set_default_timeout(ACTION_TIMEOUT_MS)
                await context.route("**/*", self._guard_request)
                await context.route_web_socket("**/*", self._guard_socket)
                self._contexts[key] = context
            pages = context.pages
            return pages[0] if pages else await context.new_page()

    async def refusal(self, url: str) -> str | None:
        """Why the guard refuses `url` (None: allowed). Resolves names through netguard."""
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return None  # never leaves the browser
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
            return f"{parts.scheme}: addresses cannot be opened"
        host = parts.hostname
        address = parse_address(host)
        if address is not None:
            return None if self.policy.permits(address) else self.policy.refusal(host)
        try:
            await self._resolver.resolve(host, parts.port or 0, socket.AF_UNSPEC)
        except FetchRefused as err:
            return str(err)
        return None

    async def _guard_request(self, route: Any, request: Any) -> None:
        why = await self.refusal(request.url)
        if why is None and urlsplit(request.url).scheme not in ("http", "https"):
            await route.fallback()
            return
        if why is None:
            why = await self._fetch_guarded(route, request)
        if why is not None:
            self.refused.append((request.url, why))
            _LOGGER.info("browser request refused by the address guard")
            await route.abort("blockedbyclient")

    async def _fetch_guarded(self, route: Any, request: Any) -> str | None:
        """Make the request with redirects checked hop by hop; a refusal's reason, or None.

        Chromium follows a redirect without asking the route again, so redirects never reach
        Chromium: a page's redirect becomes a fresh navigation to the checked target (which
        comes through this guard itself), a subresource's is followed here, each hop checked.
        """
        url = request.url
        try:
            response = await route.fetch(max_redirects=0)
            for _hop in range(MAX_REDIRECTS + 1):
                location = response.headers.get("location")
                if not (300 <= response.status < 400 and location):
                    await route.fulfill(response=response)
                    return None
                url = urljoin(url, location)
                why = await self.refusal(url)
                if why is not None:
                    return why
                if request.is_navigation_request():
                    target = html.escape(url, quote=True)
                    await route.fulfill(
                        status=200,
                        content_type="text/html",
                        body=f'<meta http-equiv="refresh" content="0;url={target}">',
                    )
                    return None
                response = await route.fetch(url=url, method="GET", max_redirects=0)
        except Exception:
            await route.abort("failed")
            return None
        return "too many redirects"

    async def _guard_socket(self, ws: Any) -> None:
        why = await self.refusal(ws.url)
        if why is None:
            ws.connect_to_server()
            return
        self.refused.append((ws.url, why))
        await ws.close(code=1008, reason="refused")

    async def close(self) -> None:
        """Close every context and Playwright."""
        for context in self._contexts.values():
            try:
                await context.close()
            except Exception:  # already gone with the browser
                _LOGGER.debug("browser context already closed")
        self._contexts.clear()
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None


def _pool(ctx: ToolContext) -> BrowserPool:
    pool = ctx.extras.get("browser")
    if not isinstance(pool, BrowserPool):
        raise ToolFailure("the browser is not available here")
    return pool


async def _snapshot(page: Any) -> dict[str, Any]:
    text = await page.inner_text("body") if await page.query_selector("body") else ""
    return {"url": page.url, "title": await page.title(), "text": text[:MAX_TEXT_CHARS]}


async def _precheck_open(ctx: ToolContext, args: dict[str, Any]) -> None:
    """Scheme and address are checked before anyone is asked to approve the visit."""
    url = args["url"]
    if not url.startswith(("http://", "https://")):
        raise ToolFailure("only http:// and https:// pages can be opened")
    pool = ctx.extras.get("browser")
    try:
        check_url(url, pool.policy if isinstance(pool, BrowserPool) else AddressPolicy())
    except FetchRefused as err:
        raise ToolFailure(str(err)) from None


async def _open(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    url = args["url"]
    await _precheck_open(ctx, args)
    pool = _pool(ctx)
    page = await pool.page(ctx)
    before = len(pool.refused)
    try:
        await page.goto(url, timeout=NAV_TIMEOUT_MS, wait_until="domcontentloaded")
    except Exception as err:
        stopped = [why for u, why in pool.refused[before:] if u.rstrip("/") == url.rstrip("/")]
        if stopped:
            raise ToolFailure(stopped[0]) from None
        raise ToolFailure(f"could not open {url}: {type(err).__name__}") from None
    return await _snapshot(page)


async def _read(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return await _snapshot(await _pool(ctx).page(ctx))


async def _screenshot(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    page = await _pool(ctx).page(ctx)
    folder = (await asyncio.to_thread(roots, ctx))[0] / "screenshots"
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{int(time.time() * 1000) % 1000:03d}.png"
    await page.screenshot(path=str(path), full_page=bool(args.get("full_page", False)))
    return {"saved": str(path), "url": page.url}


async def _act(ctx: ToolContext, selector: str, action: str, text: str = "") -> dict[str, Any]:
    page = await _pool(ctx).page(ctx)
    locator = page.locator(selector).first
    try:
        if action == "click":
            await locator.click()
        elif action == "type":
            await locator.fill(text)
        else:
            await locator.press("Enter")
        await page.wait_for_load_state("domcontentloaded")
    except Exception as err:
        raise ToolFailure(f"could not {action} {selector!r}: {type(err).__name__}") from None
    return await _snapshot(page)


async def _click(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return await _act(ctx, args["selector"], "click")


async def _type(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return await _act(ctx, args["selector"], "type", args["text"])


async def _submit(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    return await _act(ctx, args["selector"], "submit")


async def _outbound_open(ctx: ToolContext, args: dict[str, Any]) -> Outbound:
    return Outbound(destination=args["url"])


# What a click, a typing or an Enter in the open page would send, and where: the form's target
# and every field in it (a link's address for a click on a link).
_DESCRIBE_JS = """(el) => {
  const link = el.closest('a[href]');
  const form = el.form || el.closest('form');
  if (!form) return {to: link ? link.href : document.location.href, fields: ''};
  const data = new FormData(form);
  const fields = [];
  for (const [k, v] of data.entries()) fields.push(k + '=' + String(v));
  return {to: (form.method || 'get').toUpperCase() + ' ' + form.action, fields: fields.join('&')};
}"""


async def _describe(ctx: ToolContext, args: dict[str, Any], typed: str = "") -> Outbound:
    page = await _pool(ctx).page(ctx)
    try:
        element = await page.query_selector(args["selector"])
        found = await element.evaluate(_DESCRIBE_JS) if element is not None else None
    except Exception:
        found = None
    if not found:
        return Outbound(destination=f"the page {page.url}", body=typed)
    body = str(found.get("fields", ""))
    if typed:
        body = f"typed: {typed}" + (f"; the form already holds: {body}" if body else "")
    return Outbound(destination=str(found.get("to", page.url)), body=body)


async def _outbound_click(ctx: ToolContext, args: dict[str, Any]) -> Outbound:
    return await _describe(ctx, args)


async def _outbound_type(ctx: ToolContext, args: dict[str, Any]) -> Outbound:
    return await _describe(ctx, args, typed=args["text"])


def tools() -> list[ToolSpec]:
    """browser_open, browser_read, browser_screenshot (MEDIUM); browser_click, _type, _submit (HIGH)."""
    selector = {"type": "string", "minLength": 1, "maxLength": 500}

    def spec(
        name: str,
        description: str,
        props: dict[str, Any],
        required: list[str],
        risk: Risk,
        handler: Any,
        **flow: Any,
    ) -> ToolSpec:
        return ToolSpec(
            name=name,
            description=description,
            parameters={
                "type": "object",
                "properties": props,
                "required": required,
                "additionalProperties": False,
            },
            risk=risk,
            handler=handler,
            group="browser",
            **{"flow": ToolFlow(untrusted=True), **flow},
        )

    return [
        spec(
            "browser_open",
            "Open a web page in ORA's browser and read it",
            {"url": {"type": "string", "maxLength": 4096}},
            ["url"],
            Risk.MEDIUM,
            _open,
            flow=ToolFlow(untrusted=True, sends_out=True),
            precheck=_precheck_open,
            outbound=_outbound_open,
        ),
        spec("browser_read", "Read the page open in ORA's browser", {}, [], Risk.MEDIUM, _read),
        spec(
            "browser_screenshot",
            "Save a screenshot of the open page to the files folder",
            {"full_page": {"type": "boolean"}},
            [],
            Risk.MEDIUM,
            _screenshot,
        ),
        spec(
            "browser_click",
            "Click an element of the open page",
            {"selector": selector},
            ["selector"],
            Risk.HIGH,
            _click,
            flow=ToolFlow(untrusted=True, sends_out=True),
            outbound=_outbound_click,
        ),
        spec(
            "browser_type",
            "Type text into a field of the open page",
            {"selector": selector, "text": {"type": "string", "maxLength": 10_000}},
            ["selector", "text"],
            Risk.HIGH,
            _type,
            flow=ToolFlow(untrusted=True, sends_out=True),
            outbound=_outbound_type,
        ),
        spec(
            "browser_submit",
            "Submit the form of a field of the open page (Enter)",
            {"selector": selector},
            ["selector"],
            Risk.HIGH,
            _submit,
            flow=ToolFlow(untrusted=True, sends_out=True),
            outbound=_outbound_click,
        ),
    ]
