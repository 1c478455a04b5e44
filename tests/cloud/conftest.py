"""Real processes for Cloud tests: a Relay configured for the Cloud, `ora-cloud` workers, a
Node to pair devices with, and the fake provider the workers call over loopback."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.link.relay_link import RelayLink
from cloud_worker.__main__ import keygen
from relay_server.billing import sign
from tests.relay.conftest import (
    REPO,
    RelayProcess,
    relay_factory,  # noqa: F401
    shared_env,  # noqa: F401  (Relay instances acting as one)
)
from tests.support.device_client import Device
from tests.support.fake_openai import FakeOpenAI
from tests.support.fixtures import fake_openai, open_runtime  # noqa: F401
from tests.support.release import cloud_key_statement, pinned_web_dir

WEBHOOK_SECRET = "whsec_test_only_not_a_real_secret"
# Billed at gpt-4o's prices from litellm's local cost map ($2.50 / $10 per million tokens), so a
# few words cost enough to run a small budget out mid-reply.
PRICE_MODEL = "gpt-4o"


@dataclass
class CloudProcess:
    """An `ora-cloud` worker subprocess."""

    name: str
    log_path: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cloud_worker"],
            cwd=REPO,
            env={**os.environ, **self.env, "ORA_CLOUD_NAME": self.name},
            stdout=log,
            stderr=log,
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def log(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line]


def cloud_workers_connected(relay: RelayProcess) -> int:
    with urllib.request.urlopen(f"{relay.url}/metrics", timeout=2) as resp:
        text = resp.read().decode()
    found = re.search(r'^ora_relay_connections\{role="cloud"\} (\S+)$', text, re.M)
    return int(float(found.group(1))) if found else 0


def wait_for_workers(relay: RelayProcess, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cloud_workers_connected(relay) >= count:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{count} cloud worker(s) did not connect to {relay.url}")


@pytest.fixture
def cloud_keys() -> dict[str, str]:
    return keygen()


@pytest.fixture
def cloud_relay_env(cloud_keys: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """What a Relay offering the Cloud is configured with (tests add to it): its key, vouched
    for by the suite's release key, and a web client pinned to that release key."""
    return {
        "ORA_RELAY_WEB_DIR": str(pinned_web_dir(tmp_path / "web")),
        "ORA_RELAY_CLOUD_PUBLIC_KEY": cloud_keys["ORA_RELAY_CLOUD_PUBLIC_KEY"],
        "ORA_RELAY_CLOUD_KEY_STATEMENT": cloud_key_statement(
            cloud_keys["ORA_RELAY_CLOUD_PUBLIC_KEY"]
        ),
        "ORA_RELAY_CLOUD_TOKEN_SHA256": cloud_keys["ORA_RELAY_CLOUD_TOKEN_SHA256"],
        "ORA_RELAY_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


@pytest.fixture
def worker_factory(
    tmp_path: Path,
    cloud_keys: dict[str, str],
    fake_openai: FakeOpenAI,  # noqa: F811
) -> Iterator[Callable[..., CloudProcess]]:
    started: list[CloudProcess] = []

    def make(relay: RelayProcess, name: str = "w1", wait: bool = True, **env: str) -> CloudProcess:
        worker = CloudProcess(
            name=name,
            log_path=tmp_path / f"cloud-{name}.log",
            env={
                "ORA_CLOUD_RELAY_URL": relay.url,
                "ORA_CLOUD_TOKEN": cloud_keys["ORA_CLOUD_TOKEN"],
                "ORA_CLOUD_PRIVATE_KEY": cloud_keys["ORA_CLOUD_PRIVATE_KEY"],
                "ORA_CLOUD_MODEL": "openai/gpt-4o",
                "ORA_CLOUD_PRICE_MODEL": PRICE_MODEL,
                "ORA_CLOUD_API_BASE": fake_openai.base_url,
                "ORA_CLOUD_API_KEY": "sk-fake-test-key",
                **env,
            },
        )
        before = cloud_workers_connected(relay)
        worker.start()
        started.append(worker)
        if wait:
            wait_for_workers(relay, before + 1)
        return worker

    yield make
    for w in started:
        w.stop()


@dataclass
class Owner:
    """A Node, its Relay and a way to pair devices to it."""

    relay: RelayProcess
    link: RelayLink

    @property
    def account_id(self) -> str:
        node_id = self.link.identity.node_id
        assert node_id
        return node_id

    async def device(self, role: str = "owner", name: str = "phone") -> Device:
        _, url = await self.link.open_pairing(role=role)
        await asyncio.sleep(0.3)  # the Node's pair_open reaches the Relay's database first
        phone = Device(self.relay.url, name=name)
        await phone.pair(url)
        await phone.connect()
        return phone


@pytest.fixture
async def owner_factory(
    tmp_path: Path,
    fake_openai: FakeOpenAI,  # noqa: F811
) -> AsyncIterator[Callable[..., Any]]:
    opened: list[tuple[RelayLink, Any]] = []

    async def make(
        relay: RelayProcess, name: str = "node", subscribe: bool = True, profile: str = "private"
    ) -> Owner:
        rt = await open_runtime(tmp_path / name, fake_openai, profile=profile)
        link = RelayLink(runtime=rt, relay_urls=[relay.url])
        link.start()
        async with asyncio.timeout(10):
            await link.wait_connected()
        opened.append((link, rt))
        owner = Owner(relay=relay, link=link)
        if subscribe:
            # What a real owner does before using the Cloud: pay (the provider's webhook).
            status, body = await post_webhook(relay, subscription_event(owner.account_id, "active"))
            assert status == 200 and body["status"] == "active", body
        return owner

    yield make
    for link, rt in opened:
        await link.stop()
        await rt.close()


async def post_webhook(
    relay: RelayProcess,
    event: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    header: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """Deliver a payment-provider event as the provider would (signed body)."""
    raw = json.dumps(event).encode()
    sig = header
    if sig is None:
        sig = sign(secret, raw, int(time.time()) if timestamp is None else timestamp)
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{relay.url}/v1/billing/webhook",
            data=raw,
            headers={"Stripe-Signature": sig, "Content-Type": "application/json"},
        ) as resp,
    ):
        return resp.status, await resp.json()


def subscription_event(account_id: str, status: str, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{os.urandom(8).hex()}",
        "type": "customer.subscription.updated",
        "created": time.time(),
        "data": {"object": {"status": status, "metadata": {"account_id": account_id}}},
    }


async def get_statement(device: Device, account_id: str, month: str = "") -> dict[str, Any]:
    http = await device._http()
    query = f"?month={month}" if month else ""
    async with http.get(
        f"{device.relay_url}/v1/accounts/{account_id}/statement{query}",
        headers={"Authorization": f"Bearer {device.access_token}"},
    ) as resp:
        body = await resp.json()
        assert resp.status == 200, body
        return body
