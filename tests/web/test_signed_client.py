"""The installed web client runs only code signed by ORA's release key (Chromium, the real
service worker installed), whatever the server that first served it sends afterwards.

The server here is `ora-web` (relay_server.web_client) serving a folder the test controls, as
an attacker who runs it would: it changes client.js, offers unsigned, wrongly signed and older
bundles, or serves a page of its own. Each bundle is pinned to a key the test makes.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from nacl.signing import SigningKey
from playwright.async_api import expect

from installer import release_key, web_bundle
from relay_server.web_client import WebSettings, create_web_app
from tests.relay.conftest import free_port
from tests.web.conftest import ARGS, CHROMIUM, PHONE

pytestmark = pytest.mark.slow

WEB = Path(__file__).resolve().parents[2] / "assets" / "web"
EVIL = "\nself.ORA_EVIL = true; document.title = 'PWNED';\n"


class Site:
    """The client's own origin, serving whatever the test puts in `served`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.served = root / "served"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"

    def publish(
        self,
        version: str,
        key: SigningKey,
        *,
        marker: str = "",
        pin_own_key: bool = True,
    ) -> None:
        """Sign the client (with marker appended to client.js) and serve it."""
        src = self.root / f"src-{version}"
        shutil.rmtree(src, ignore_errors=True)
        shutil.copytree(WEB, src)
        if marker:
            with (src / "client.js").open("a") as f:
                f.write(f"\nself.ORA_BUILD = {marker!r};\n")
        if not pin_own_key:  # keep the release key the devices already pinned
            shutil.copy(self.served / "release-key.json", src / "release-key.json")
        web_bundle.build(src, self.served, key, version, pin_own_key=pin_own_key)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    s = Site(tmp_path)
    s.served.mkdir()
    shutil.copytree(WEB, s.served, dirs_exist_ok=True)
    app = create_web_app(WebSettings(web_dir=s.served, relays=("http://127.0.0.1:1",)))
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", s.port).start()
    yield s
    await runner.cleanup()


@pytest.fixture
def key() -> SigningKey:
    return release_key.generate()


async def installed(browser: Any, site: Site, locale: str = "en-US") -> tuple[Any, Any]:
    """A phone that opened the client once: the worker is installed and controls the page."""
    context = await browser.new_context(**PHONE, locale=locale)
    page = await context.new_page()
    await page.goto(site.url)
    await page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15000)
    await expect(page.locator("#release-line")).to_be_visible(timeout=10000)
    return context, page


async def marker_of(page: Any) -> Any:
    return await page.evaluate("() => [self.ORA_BUILD, self.ORA_EVIL, document.title]")


async def test_installable_pwa_with_manifest_icons_and_ios_meta(
    tmp_path: Path, site: Site, key: SigningKey
) -> None:
    from playwright.async_api import async_playwright

    site.publish("1.0.0", key)
    async with async_playwright() as pw:
        # A profile on disk, as a phone's browser has: Chromium offers no install when incognito.
        phone: Any = PHONE
        context = await pw.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=CHROMIUM, args=ARGS, headless=True, **phone
        )
        await check_installable(context, site)
        await context.close()


async def check_installable(context: Any, site: Site) -> None:
    page = await context.new_page()
    await page.goto(site.url)
    await page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    await expect(page.locator("#release-line")).to_be_visible(timeout=10000)
    cdp = await context.new_cdp_session(page)
    manifest = await cdp.send("Page.getAppManifest")
    assert not manifest.get("errors"), manifest.get("errors")
    assert '"display": "standalone"' in manifest["data"]
    errors = await cdp.send("Page.getInstallabilityErrors")
    assert errors["installabilityErrors"] == [], errors
    # iOS "Add to Home Screen": its icon and the standalone meta tags, all served.
    apple = await page.get_attribute("link[rel=apple-touch-icon]", "href")
    resp = await page.request.get(site.url + apple)
    assert resp.ok and resp.headers["content-type"] == "image/png"
    assert await page.get_attribute("meta[name=apple-mobile-web-app-capable]", "content") == "yes"
    assert await page.locator("#release-line .v").text_content() == "1.0.0"


@pytest.mark.parametrize("locale", ["en-US", "ja-JP"])
async def test_changed_client_js_is_not_run_and_the_user_is_told(
    browser: Any, site: Site, key: SigningKey, locale: str
) -> None:
    site.publish("1.0.0", key, marker="v1")
    context, page = await installed(browser, site, locale)
    assert await marker_of(page) == ["v1", None, "ORA"]

    # The server now sends a client.js that would leak the device key; bundle.json unchanged.
    with (site.served / "client.js").open("a") as f:
        f.write(EVIL)
    await page.reload()
    release = page.locator("#release")
    await expect(release).to_have_attribute("data-state", "relFiles", timeout=15000)
    told = {"en-US": "differ from ORA's signed release", "ja-JP": "署名済みリリースと異なる"}
    await expect(release).to_contain_text(told[locale])
    assert await marker_of(page) == ["v1", None, "ORA"]
    # Still refused on every later start; the kept client keeps working.
    await page.reload()
    await expect(release).to_have_attribute("data-state", "relFiles", timeout=15000)
    assert await marker_of(page) == ["v1", None, "ORA"]
    await expect(page.locator("#welcome")).to_be_visible()
    await context.close()


async def test_a_correctly_signed_new_version_is_taken(
    browser: Any, site: Site, key: SigningKey
) -> None:
    site.publish("1.0.0", key, marker="v1")
    context, page = await installed(browser, site)
    site.publish("1.1.0", key, marker="v2", pin_own_key=False)
    await page.reload()
    release = page.locator("#release")
    await expect(release).to_have_attribute("data-state", "relReady", timeout=15000)
    assert (await marker_of(page))[0] == "v1"  # the running page stays as it was
    await page.click("#release-reload")
    await page.wait_for_function("() => self.ORA_BUILD === 'v2'", timeout=10000)
    await expect(page.locator("#release-line .v")).to_have_text("1.1.0", timeout=10000)
    await context.close()


@pytest.mark.parametrize("attack", ["unsigned", "payload_edited", "wrong_key", "older"])
async def test_unsigned_wrongly_signed_or_older_bundles_are_refused(
    browser: Any, site: Site, key: SigningKey, attack: str
) -> None:
    site.publish("1.0.0", key, marker="v1")
    context, page = await installed(browser, site)
    if attack == "unsigned":
        site.publish("2.0.0", key, marker="evil", pin_own_key=False)
        (site.served / "bundle.json").unlink()
        expected = "relUnsigned"
    elif attack == "payload_edited":
        # The attacker lists its own client.js hash in a payload it cannot sign.
        site.publish("2.0.0", key, marker="evil", pin_own_key=False)
        manifest = site.served / "bundle.json"
        text = manifest.read_text().replace('"version\\": \\"2.0.0', '"version\\": \\"2.0.1')
        assert text != manifest.read_text()
        manifest.write_text(text)
        expected = "relBadSignature"
    elif attack == "wrong_key":
        # Signed, and pinned to its own key: not ORA's release key.
        site.publish("2.0.0", release_key.generate(), marker="evil")
        expected = "relBadSignature"
    else:
        site.publish("0.9.0", key, marker="evil", pin_own_key=False)
        expected = "relOlder"
    for _ in range(2):
        await page.reload()
        await expect(page.locator("#release")).to_have_attribute(
            "data-state", expected, timeout=15000
        )
        assert await marker_of(page) == ["v1", None, "ORA"]
    await expect(page.locator("#release-line .v")).to_have_text("1.0.0")
    await context.close()


async def test_a_page_of_the_servers_own_is_not_run_inside_the_app(
    browser: Any, site: Site, key: SigningKey
) -> None:
    site.publish("1.0.0", key, marker="v1")
    context, page = await installed(browser, site)
    (site.served / "steal.html").write_text(
        "<script>document.title='PWNED'</script><p id=evil>evil</p>"
    )
    (site.served / "steal.js").write_text("self.ORA_EVIL = true;")
    await page.goto(site.url + "steal.html")
    await expect(page.locator("#welcome")).to_be_visible(timeout=10000)
    assert await page.locator("#evil").count() == 0
    resp = await page.evaluate("() => fetch('steal.js').then(r => r.status)")
    assert resp == 404
    assert await marker_of(page) == ["v1", None, "ORA"]
    await context.close()


@pytest.mark.parametrize("locale", ["en-US", "ja-JP"])
async def test_works_offline_as_a_shell_that_says_so(
    browser: Any, site: Site, key: SigningKey, locale: str
) -> None:
    site.publish("1.0.0", key, marker="v1")
    context, page = await installed(browser, site, locale)
    await expect(page.locator("#offline")).to_be_hidden()
    await context.set_offline(True)
    await page.reload()
    offline = page.locator("#offline")
    await expect(offline).to_be_visible(timeout=10000)
    told = {"en-US": "You are offline", "ja-JP": "オフラインです"}
    await expect(offline).to_contain_text(told[locale])
    assert (await marker_of(page))[0] == "v1"
    await expect(page.locator("#welcome h1")).not_to_be_empty()
    await context.set_offline(False)
    await expect(offline).to_be_hidden(timeout=10000)
    await context.close()


@pytest.mark.parametrize(
    ("tamper", "state"),
    [(lambda s: (s / "bundle.json").unlink(), "relNotKept"), (None, "relNotKeptBad")],
)
async def test_an_unsigned_first_visit_is_not_kept_and_says_so(
    browser: Any, site: Site, key: SigningKey, tamper: Callable[[Path], None] | None, state: str
) -> None:
    site.publish("1.0.0", key)
    if tamper is not None:
        tamper(site.served)
    else:  # signed, but not by the key release-key.json pins
        (site.served / "release-key.json").write_text(
            release_key.public_json(release_key.generate())
        )
    context = await browser.new_context(**PHONE, locale="en-US")
    page = await context.new_page()
    await page.goto(site.url)
    await expect(page.locator("#release")).to_have_attribute("data-state", state, timeout=15000)
    assert await page.evaluate("() => navigator.serviceWorker.controller") is None
    await context.close()
