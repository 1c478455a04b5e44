"""Browser automation with Playwright and Chromium.

Reading (open, read, screenshot) is MEDIUM; acting in a page (click, type, submit) is HIGH,
because the page may be a logged-in session. Each ORA profile keeps its own persistent browser
profile, and inside it each user has their own: a guest never sees the owner's cookies.
Chromium starts on first use and stops with the Node.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from app.policy.gate import Risk, Role
from app.tools.files import roots
from app.tools.spec import ToolContext, ToolFailure, ToolSpec

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


class BrowserPool:
    """One persistent browser context per (role, user) of a profile, started lazily."""

    def __init__(
        self, profile_dir: Path, executable: str = DEFAULT_EXECUTABLE, *, local_only: bool = False
    ) -> None:
        self.profile_dir = profile_dir
        self.executable = executable
        self.local_only = local_only
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
                self._contexts[key] = context
            pages = context.pages
            return pages[0] if pages else await context.new_page()

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


async def _open(ctx: ToolContext, args: dict[str, Any]) -> dict[str, Any]:
    url = args["url"]
    if not url.startswith(("http://", "https://")):
        raise ToolFailure("only http:// and https:// pages can be opened")
    page = await _pool(ctx).page(ctx)
    try:
        await page.goto(url, timeout=NAV_TIMEOUT_MS, wait_until="domcontentloaded")
    except Exception as err:
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
        )

    return [
        spec(
            "browser_open",
            "Open a web page in ORA's browser and read it",
            {"url": {"type": "string", "maxLength": 4096}},
            ["url"],
            Risk.MEDIUM,
            _open,
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
        ),
        spec(
            "browser_type",
            "Type text into a field of the open page",
            {"selector": selector, "text": {"type": "string", "maxLength": 10_000}},
            ["selector", "text"],
            Risk.HIGH,
            _type,
        ),
        spec(
            "browser_submit",
            "Submit the form of a field of the open page (Enter)",
            {"selector": selector},
            ["selector"],
            Risk.HIGH,
            _submit,
        ),
    ]
