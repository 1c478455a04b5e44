"""The whole service side through its front door, as users and the operator meet it.

deploy/local.py starts compose.yaml's stack natively (Caddy with its internal CA, two Relays on
the machine's PostgreSQL and Redis, two Cloud workers, the web client's own origin, the status
page). Chromium trusts the CA through an NSS database of its own and reaches `*.ora.test`
through a host-resolver rule; the Node, in this process, through the same two things done the
Python way (its name lookups and its TLS trust, for `*.ora.test` only).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import expect

from app.link.relay_link import RelayLink
from deploy import local
from relay_server.billing import sign
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import fake_openai, open_runtime  # noqa: F401
from tests.web.conftest import ARGS, CHROMIUM, PHONE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local.Plan]:
    state = tmp_path_factory.mktemp("stack")
    plan = local.plan(state)
    local.start(plan, timeout_s=240)
    yield plan
    local.stop(state)


def _ssl(plan: local.Plan) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(plan.ca_root))


class _OraTest(aiohttp.abc.AbstractResolver):
    """`*.ora.test` is this machine (what the operator's DNS does for the real domain)."""

    def __init__(self) -> None:
        self._next = aiohttp.resolver.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[Any]:
        if host.endswith(".ora.test"):
            host = "127.0.0.1"
        return await self._next.resolve(host, port, family)

    async def close(self) -> None:
        await self._next.close()


def _client(plan: local.Plan) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=_ssl(plan), resolver=_OraTest())
    )


@pytest.fixture
def node_reaches_ora_test(stack: local.Plan, monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process Node resolves *.ora.test to loopback and trusts the stack's CA."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".ora.test"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    # aiohttp verifies with one default context made at import; it learns the stack's root.
    aiohttp.connector._SSL_CONTEXT_VERIFIED.load_verify_locations(str(stack.ca_root))


@pytest.fixture
async def phone(stack: local.Plan, tmp_path: Path) -> AsyncIterator[Any]:
    """Chromium at phone size that trusts the stack's CA (an NSS database in its own HOME)."""
    from playwright.async_api import async_playwright

    home = tmp_path / "home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
    subprocess.run(
        [
            "certutil",
            "-d",
            f"sql:{nssdb}",
            "-A",
            "-t",
            "C,,",
            "-n",
            "ora-root",
            "-i",
            str(stack.ca_root),
        ],
        check=True,
    )
    args = [a for a in ARGS if not a.startswith("--host-resolver-rules")]
    args.append("--host-resolver-rules=MAP *.ora.test 127.0.0.1, MAP * ~NOTFOUND")
    async with async_playwright() as pw:
        browser: Any = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=args,
            headless=True,
            env={**os.environ, "HOME": str(home)},
        )
        context = await browser.new_context(**PHONE, locale="en-US")
        yield await context.new_page()
        await browser.close()


async def test_the_public_hosts_answer_over_https_and_keep_private_paths_private(
    stack: local.Plan,
) -> None:
    async with _client(stack) as http:
        async with http.get(stack.url("app") + "/") as resp:
            assert resp.status == 200
            csp = resp.headers["Content-Security-Policy"]
            assert "Strict-Transport-Security" in resp.headers
        # The client may talk to its Relay and nothing else.
        relay = stack.url("relay")
        connect = next(d for d in csp.split(";") if d.strip().startswith("connect-src"))
        assert set(connect.split()[1:]) == {"'self'", relay, "wss" + relay.removeprefix("https")}
        async with http.get(stack.url("relay") + "/metrics") as resp:
            assert resp.status == 404, "the Relays' metrics are the operator's, not the public's"
        async with http.get(stack.url("api") + "/v1/ws") as resp:
            assert resp.status == 404, "api. serves the billing paths only"
        async with http.get(stack.url("docs") + "/alerts/") as resp:
            assert resp.status == 200
            assert "RelayInstanceDown" in await resp.text()
        async with http.get(stack.url("status") + "/status.json") as resp:
            status = await resp.json()
        assert {c["name"] for c in status["components"]} >= {"relay-1", "relay-2", "cloud-1"}
        assert "account" not in json.dumps(status), "no user data on the status page"


async def test_billing_webhook_arrives_through_api(stack: local.Plan) -> None:
    secret = stack.env["ORA_RELAY_WEBHOOK_SECRET"]
    account = "acct-front-door"
    event = {
        "id": f"evt_{os.urandom(6).hex()}",
        "type": "customer.subscription.updated",
        "created": int(time.time()),
        "data": {"object": {"status": "active", "metadata": {"account_id": account}}},
    }
    body = json.dumps(event).encode()
    ts = int(time.time())
    async with _client(stack) as http:
        forged = {"Stripe-Signature": f"t={ts},v1={'0' * 64}"}
        async with http.post(
            stack.url("api") + "/v1/billing/webhook", data=body, headers=forged
        ) as r:
            assert r.status in (400, 401, 403), "a forged webhook is refused at the front door"
        signed = {"Stripe-Signature": sign(secret, body, ts), "Content-Type": "application/json"}
        async with http.post(
            stack.url("api") + "/v1/billing/webhook", data=body, headers=signed
        ) as r:
            assert r.status == 200, await r.text()
        async with http.post(
            stack.url("api") + "/v1/billing/webhook", data=body, headers=signed
        ) as r:
            assert r.status != 200, "a replayed webhook is refused through the proxy too"


async def test_pair_chat_and_keep_working_when_a_relay_instance_dies(
    stack: local.Plan,
    phone: Any,
    node_reaches_ora_test: None,
    tmp_path: Path,
    fake_openai: FakeOpenAI,  # noqa: F811
) -> None:
    rt = await open_runtime(tmp_path / "node", fake_openai)
    link = RelayLink(runtime=rt, relay_urls=[stack.url("relay")], web_url=stack.url("app") + "/")
    link.start()
    try:
        async with asyncio.timeout(30):
            await link.wait_connected()
        _, url = await link.open_pairing()
        assert url.startswith(stack.url("app") + "/#")
        logs: list[str] = []
        phone.on("console", lambda msg: logs.append(msg.text))
        phone.on("requestfailed", lambda r: logs.append(f"failed {r.url} {r.failure}"))
        await phone.goto(url)
        try:
            await phone.wait_for_selector("#dot.online", timeout=30000)
        except Exception:
            await phone.screenshot(path="/tmp/fd.png")
            print("BODY", await phone.inner_text("body"))
            print("LOGS", logs)
            raise

        fake_openai.script.append(Reply(text="Through the front door."))
        await phone.fill("#input", "hello")
        await phone.click("#send")
        await expect(phone.locator(".msg.ora", has_text="Through the front door.")).to_have_count(
            1, timeout=30000
        )

        # The operator loses an instance. Clients reconnect through Caddy to the other one.
        victim = next(p for p in stack.processes if p.name == "relay-1")
        os.killpg(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        fake_openai.script.append(Reply(text="Still here on the other instance."))
        deadline = time.monotonic() + 60
        while True:
            await phone.wait_for_selector("#dot.online", timeout=60000)
            await phone.fill("#input", "still there?")
            await phone.click("#send")
            try:
                await expect(
                    phone.locator(".msg.ora", has_text="Still here on the other instance.")
                ).to_have_count(1, timeout=15000)
                break
            except AssertionError:
                # The message went out before the Node was back; the page said so. Try again.
                if time.monotonic() > deadline:
                    raise

        # The status page shows the instance down within 30 s.
        async with _client(stack) as http:
            while True:
                async with http.get(stack.url("status") + "/status.json") as resp:
                    status = await resp.json()
                relay1 = next(c for c in status["components"] if c["name"] == "relay-1")
                if not relay1["up"]:
                    break
                assert time.monotonic() - killed_at < 30, "status still shows relay-1 up"
                await asyncio.sleep(1)
        assert status["overall"] == "degraded"
    finally:
        await link.stop()
        await rt.close()
