"""Browser automation with Playwright and Chromium.

Reading (open, read, screenshot) is MEDIUM; acting in a page (click, type, submit) is HIGH,
because the page may be a logged-in session. Each ORA profile keeps its own persistent browser
profile, and inside it each user has their own: a guest never sees the owner's cookies.
Chromium starts on first use and stops with the Node.

The browser obeys the same address rules as web fetch (netguard): Chromium's only way out is
netguard's guarded proxy on loopback, which resolves each request's host itself and connects to
exactly the address it checked (so DNS rebinding between a check and Chromium's own lookup is
impossible: Chromium looks nothing up), for navigations, redirects, subresources, form posts,
WebSockets and the requests of workers and service workers alike; non-public addresses are
refused unless `[tools.browser] allow_private = true`. Request interception in front of it
refuses IP literals and odd schemes early, with the page's full address in the refusal. Every browser tool's result is untrusted content, and
navigating, clicking, typing and submitting can send data out (taint rule, app/policy/taint.py):
in a turn that read a page, the owner sees the exact URL, form target and fields first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.policy.gate import Risk, Role
from app.policy.taint import Outbound, ToolFlow
from app.tools.files import roots
from app.tools.spec import ToolContext, ToolFailure, ToolSpec
from netguard import AddressPolicy, FetchRefused, Lookup
from netguard.addresses import parse_address
from netguard.fetcher import check_url
from netguard.proxy import GuardedProxy

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
    # WebRTC's UDP (STUN, TURN, peer connections) would go around the guarded proxy, straight to
    # any address a page names: only proxied traffic, which the proxy checks like the rest.
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
]
NAV_TIMEOUT_MS = 15_000
ACTION_TIMEOUT_MS = 5_000
MAX_TEXT_CHARS = 30_000
MAX_REFUSED = 200


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
        lookup: Lookup | None = None,
    ) -> None:
        self.profile_dir = profile_dir
        self.executable = executable
        self.local_only = local_only
        self.policy = policy or AddressPolicy(allow_private=allow_private)
        self.proxy = GuardedProxy(self.policy, lookup, on_refused=self._record)
        # (url, why) of the latest requests the guard stopped; bounded, since a long-running
        # Node would otherwise keep every refused URL (and the data in it) in memory.
        self.refused: list[tuple[str, str]] = []
        self._dropped = 0
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
                if not self.proxy.port:
                    await self.proxy.start()
                # Every request, loopback included (Chromium bypasses the proxy for loopback
                # unless told `<-loopback>`), goes out through the guarded proxy.
                args = [
                    *CHROMIUM_ARGS,
                    f"--proxy-server={self.proxy.url}",
                    "--proxy-bypass-list=<-loopback>",
                ]
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

    def _record(self, target: str, why: str) -> None:
        self.refused.append((target, why))
        if len(self.refused) > MAX_REFUSED:
            drop = len(self.refused) - MAX_REFUSED // 2
            del self.refused[:drop]
            self._dropped += drop

    def mark(self) -> int:
        """A position in the refusals, for `refused_since`."""
        return self._dropped + len(self.refused)

    def refusal(self, url: str) -> str | None:
        """Why `url` is refused before any connection (None: up to the proxy).

        Only what needs no DNS is judged here (schemes, IP literals), for a clear early answer;
        names are resolved and checked by the proxy, at connect time, once per connection.
        """
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return None  # never leaves the browser
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
            return f"{parts.scheme}: addresses cannot be opened"
        address = parse_address(parts.hostname)
        if address is not None and not self.policy.permits(address):
            return self.policy.refusal(parts.hostname)
        return None

    async def _guard_request(self, route: Any, request: Any) -> None:
        why = self.refusal(request.url)
        if why is None:
            await route.fallback()  # on to Chromium, whose only way out is the guarded proxy
            return
        self._record(request.url, why)
        _LOGGER.info("browser request refused by the address guard")
        await route.abort("blockedbyclient")

    def refused_since(self, before: int, url: str, *, failed: bool) -> str | None:
        """Why the guard stopped `url` after the `before`-th refusal (None: it did not).

        A plain-HTTP refusal names the full URL (the proxy answers it with a refusal page, so
        the navigation "succeeds"); a refused tunnel names only host:port, and is taken as this
        page's only when the navigation failed.
        """
        want = _place(url)
        for target, why in self.refused[max(0, before - self._dropped) :]:
            if target.rstrip("/") == url.rstrip("/"):
                return why
            if failed and "://" not in target and _place(f"//{target}") == want:
                return why
        return None

    async def _guard_socket(self, ws: Any) -> None:
        why = self.refusal(ws.url)
        if why is None:
            ws.connect_to_server()
            return
        self._record(ws.url, why)
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
        await self.proxy.close()


def _place(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    default = 443 if parts.scheme in ("https", "wss", "") else 80
    try:
        return (parts.hostname or "", parts.port or default)
    except ValueError:
        return ("", 0)


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
    before = pool.mark()
    try:
        await page.goto(url, timeout=NAV_TIMEOUT_MS, wait_until="domcontentloaded")
    except Exception as err:
        why = pool.refused_since(before, url, failed=True)
        raise ToolFailure(why or f"could not open {url}: {type(err).__name__}") from None
    # A redirect into the LAN ends on the proxy's refusal page: say so, not "opened".
    why = pool.refused_since(before, url, failed=False) or pool.refused_since(
        before, page.url, failed=False
    )
    if why is not None:
        raise ToolFailure(why)
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
