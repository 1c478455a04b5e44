"""A quiet start at phone size: no 404 (favicon included), and the offline header fits 390 px
without cutting its text, in both languages."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.local_server import server as local_server
from tests.support.fake_openai import FakeOpenAI
from tests.support.fixtures import open_runtime
from tests.web.conftest import PHONE

pytestmark = pytest.mark.slow
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

FITS = """() => {
  const name = document.getElementById('node-name');
  const lang = document.getElementById('lang');
  return {
    cut: name.scrollWidth > name.clientWidth + 1 || name.scrollHeight > name.clientHeight + 1,
    pageWidth: document.documentElement.scrollWidth,
    langRight: lang.getBoundingClientRect().right,
    dot: [document.getElementById('dot').getBoundingClientRect().width,
          document.getElementById('dot').getBoundingClientRect().height],
    text: name.textContent,
  };
}"""


@pytest.fixture
async def local(tmp_path: Path, fake_openai: FakeOpenAI) -> AsyncIterator[Any]:
    runtime = await open_runtime(tmp_path, fake_openai)
    served = await local_server.start(runtime)
    assert served is not None
    yield served
    await served.stop()
    await runtime.close()


async def _failures(page: Any) -> list[str]:
    failed: list[str] = []
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return failed


@pytest.mark.parametrize("lang", ["en-US", "ja-JP"])
async def test_offline_header_fits_a_phone_and_nothing_is_missing(
    browser: Any, relay: Any, local: Any, lang: str
) -> None:
    context = await browser.new_context(locale=lang, **PHONE)
    page = await context.new_page()
    failed = await _failures(page)
    # The Relay's page, as a phone that is paired but whose PC is off shows it.
    await page.goto(f"{relay.url}/app/")
    await page.wait_for_load_state("networkidle")
    await page.evaluate(
        "document.getElementById('node-name').textContent = 'ORA · ' + OraI18n.t('offline')"
    )
    seen = await page.evaluate(FITS)
    assert not seen["cut"], seen
    assert seen["pageWidth"] <= 390 and seen["langRight"] <= 390, seen
    assert seen["dot"] == [9, 9], "the status dot stays a dot"
    await page.screenshot(path=str(SHOTS / f"web-offline-header-{lang[:2]}.png"))
    # The local server's page, ORA not reachable: the longest local header.
    await page.goto(local.url + "#local=" + "x" * 43)
    await page.wait_for_selector("#dot.offline")
    seen = await page.evaluate(FITS)
    assert not seen["cut"] and seen["pageWidth"] <= 390, seen
    # Known and expected: the 401 that makes this page say "not opened by ORA", and the web
    # client's optional config.json (only an `ora-web` origin has one). Nothing else.
    unexpected = [f for f in failed if not f.endswith(("/api/status", "/app/config.json"))]
    assert unexpected == [], unexpected


async def test_the_favicon_is_served_where_browsers_ask(local: Any) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{local.port}/favicon.ico") as resp,
    ):
        assert resp.status == 200 and resp.content_type == "image/png"
