"""Home-network mode (`make run`) and the plain-http rule, on the Node and in the web client.

Only loopback is ever bound or connected to: the "home-network address" is simulated as
127.0.0.2, and the refusal logic is tried with private and public addresses that nothing
connects to (it refuses before any connection).
"""

import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from app.home_network import PlainRelayRefused, check_relay_url, pairing_web_url
from tests.node.test_make_run import ROOT, run_make_run, wait_for
from tests.node.test_one_node_per_profile import node_env, private_profile
from tests.relay.conftest import free_port
from tests.web.conftest import ARGS, CHROMIUM, PHONE

SHOTS = ROOT / "docs" / "screenshots"


@pytest.mark.parametrize(
    ("url", "home", "plain", "refused"),
    [
        ("https://relay.example", False, False, None),
        ("http://127.0.0.1:8470", False, False, None),
        ("http://localhost:8470", False, False, None),
        ("http://[::1]:8470", False, False, None),
        ("http://192.168.1.20:8470", True, True, None),
        ("http://10.0.0.5:8470", True, True, None),
        ("http://[fd12::5]:8470", True, True, None),
        ("http://192.168.1.20:8470", False, None, "not_chosen"),
        ("http://203.0.113.9:8470", True, None, "public"),
        ("http://100.64.0.1:8470", True, None, "public"),  # CGNAT is not your home
        ("http://mypc.local:8470", True, None, "public"),  # a name can resolve anywhere
        ("ws://8.8.8.8", True, None, "public"),
    ],
)
def test_plain_http_only_on_this_pc_or_a_chosen_home_network(
    url: str, home: bool, plain: bool | None, refused: str | None
) -> None:
    if refused:
        with pytest.raises(PlainRelayRefused) as err:
            check_relay_url(url, home_network=home)
        assert err.value.reason == refused
    else:
        assert check_relay_url(url, home_network=home) is plain


def test_pairing_links_are_marked_only_in_home_network_mode() -> None:
    assert pairing_web_url("http://192.168.1.20:8470", "", home_network=True) == (
        "http://192.168.1.20:8470/app/?home=1"
    )
    assert pairing_web_url("http://192.168.1.20:8470", "", home_network=False) == ""
    assert pairing_web_url("https://relay.example", "", home_network=True) == ""


@pytest.mark.parametrize(
    ("url", "lang", "says"),
    [
        ("http://203.0.113.9:8470", "C.UTF-8", "will not connect to the Relay at"),
        (
            "http://203.0.113.9:8470",
            "ja_JP.UTF-8",
            "暗号化されていない http で接続することになるため",
        ),
        ("http://192.168.77.7:8470", "C.UTF-8", "home-network mode was not chosen"),
    ],
)
def test_the_headless_node_refuses_a_plain_relay_before_connecting(
    tmp_path: Path, url: str, lang: str, says: str
) -> None:
    private_profile(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "app", "--headless"],
        cwd=ROOT,
        env=node_env(tmp_path, ORA_RELAY_URL=url, LANG=lang),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert says in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.slow
async def test_make_run_offers_pairing_on_the_home_network_address(tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    # The closed-network flags, with the simulated home address let through as well.
    args = [a for a in ARGS if not a.startswith("--host-resolver-rules")]
    args.append("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE 127.0.0.2")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            await _pair_from_the_home_address(tmp_path, browser)
        finally:
            await browser.close()


async def _pair_from_the_home_address(tmp_path: Path, browser: Any) -> None:
    private_profile(tmp_path)
    port = free_port()
    env = node_env(
        tmp_path,
        ORA_RELAY_PORT=str(port),
        ORA_HEADLESS="1",
        ORA_LAN_ADDRESS="127.0.0.2",  # stands for 192.168.x.y
        ORA_RELAY_BIND="127.0.0.2",  # and binds there only (never 0.0.0.0 in a test)
    )
    env.pop("ORA_RELAY_URL")
    seen: list[str] = []
    run = run_make_run(tmp_path, env)
    try:
        wait_for(run, "or open: ", seen)
        text = "".join(seen)
        assert "home-network mode: the Relay is reachable on your network at" in text
        assert f"http://127.0.0.2:{port}" in text
        assert "not encrypted" in text and "end-to-end encrypted" in text
        url = re.search(r"or open: (\S+)", text)
        assert url is not None
        link = url.group(1)
        assert link.startswith(f"http://127.0.0.2:{port}/app/?home=1#")
        # The phone opens the QR's address (not 127.0.0.1) and pairs.
        page = await (await browser.new_context(locale="en-US", **PHONE)).new_page()
        await page.goto(link)
        await page.wait_for_selector("#dot.online", timeout=30000)
        # What a real LAN address shows: the plain-connection notice (nothing is contacted).
        allowed = await page.evaluate("OraPlainRelay.allowed('http://192.168.77.7:8470', true)")
        assert allowed is True
        await expect(page.locator("#plain-note")).to_contain_text("not encrypted")
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "web-home-network-en.png"))
        # A plain Relay beyond home is refused on screen, in the user's language.
        refused = await page.evaluate("OraPlainRelay.allowed('http://203.0.113.9:8470', true)")
        assert refused is False
        await expect(page.locator("#status")).to_contain_text("ORA refuses it")
        ja = await (await browser.new_context(locale="ja-JP", **PHONE)).new_page()
        await ja.goto(f"http://127.0.0.2:{port}/app/")
        await ja.evaluate("OraPlainRelay.allowed('http://192.168.77.7:8470', false)")
        await expect(ja.locator("#status")).to_contain_text("ホームネットワーク・モード")
    finally:
        import os

        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
            try:
                run.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
        time.sleep(0)
