"""Real Relay processes on loopback, and a Node (core + link) connected to them."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from app.link.relay_link import RelayLink
from tests.support.fixtures import fake_openai, open_runtime  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
async def shared_env() -> AsyncIterator[dict[str, str]]:
    """What Relay instances acting as one share: a database of its own for this test (dropped
    after) on the machine's PostgreSQL, and its own key prefix on the machine's Redis."""
    name = f"ora_relay_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield {
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "ORA_RELAY_REDIS_PREFIX": f"ora-test-{name}",
    }
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RelayProcess:
    """An `ora-relay` subprocess; stop() and start() keep its port and data."""

    data_dir: Path
    port: int
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "relay.log"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "relay_server",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
            ],
            cwd=REPO,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=0.5) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"relay did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


@pytest.fixture
def relay_factory(tmp_path: Path) -> Iterator[Callable[..., RelayProcess]]:
    started: list[RelayProcess] = []

    def make(name: str = "relay", **env: str) -> RelayProcess:
        r = RelayProcess(data_dir=tmp_path / name, port=free_port(), env=env)
        r.start()
        started.append(r)
        return r

    yield make
    for r in started:
        r.stop()


@pytest.fixture
def relay(relay_factory: Callable[..., RelayProcess]) -> RelayProcess:
    return relay_factory()


@pytest.fixture
async def node(tmp_path: Path, relay: RelayProcess, fake_openai) -> AsyncIterator[RelayLink]:  # noqa: F811
    rt = await open_runtime(tmp_path / "node", fake_openai)
    link = RelayLink(runtime=rt, relay_urls=[relay.url])
    link.start()
    async with asyncio.timeout(10):
        await link.wait_connected()
    yield link
    await link.stop()
    await rt.close()
