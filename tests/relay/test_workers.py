"""One Relay instance as several worker processes on one port (ORA_RELAY_WORKERS), on the
machine's real PostgreSQL and Redis: the kernel spreads connections over the workers, a phone
and its Node on two different workers still talk, a worker that dies is started again while
the others keep their sockets, and stopping the instance stops every worker."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from app.link.relay_link import RelayLink
from protocol import messages as m
from tests.relay.conftest import REPO, RelayProcess
from tests.support.device_client import Device
from tests.support.fake_openai import FakeOpenAI, Reply
from tests.support.fixtures import open_runtime

pytestmark = pytest.mark.slow


def _free_ports(n: int) -> int:
    """A base port with n free ports from it (each worker's own /metrics port)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + n > 65535:
            continue
        try:
            held = []
            for i in range(n):
                t = socket.socket()
                held.append(t)
                t.bind(("127.0.0.1", base + i))
        except OSError:
            continue
        finally:
            for t in held:
                t.close()
        return base
    raise RuntimeError("no run of free ports")


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        return resp.read().decode()


def _connections(port: int, role: str) -> int:
    for line in _metrics(port).splitlines():
        if line.startswith(f'ora_relay_connections{{role="{role}"}}'):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


def _wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("timed out")


def _pids(supervisor: int) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-P", str(supervisor)], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in out.split()]


async def test_phone_and_node_on_two_workers_of_one_instance(
    tmp_path: Path, relay_factory, shared_env: dict[str, str], fake_openai: FakeOpenAI
) -> None:
    base = _free_ports(2)
    relay: RelayProcess = relay_factory(
        "relay", ORA_RELAY_WORKERS="2", ORA_RELAY_WORKER_METRICS_PORT=str(base), **shared_env
    )
    # Both workers serve, each with its own /metrics.
    _wait_for(lambda: all("ora_relay_connections" in _metrics(p) for p in (base, base + 1)))
    assert relay.proc is not None
    workers = _pids(relay.proc.pid)
    assert len(workers) == 2

    rt = await open_runtime(tmp_path / "node", fake_openai)
    link = RelayLink(runtime=rt, relay_urls=[relay.url])
    link.start()
    async with asyncio.timeout(15):
        await link.wait_connected()
    node_on = next(i for i in (0, 1) if _connections(base + i, "node") == 1)
    other = base + 1 - node_on

    _, url = await link.open_pairing()
    await asyncio.sleep(0.3)  # the pairing reaches the shared database through the Node's worker
    phone = Device(relay.url)
    await phone.pair(url)
    # Each connection is a new source port, which the kernel hashes to one worker or the
    # other: connect until the phone is on the worker the Node is not on.
    for _ in range(40):
        await phone.connect()
        if _connections(other, "device") == 1:
            break
        await phone.close()
        phone.ws, phone.http = None, None
    else:
        raise AssertionError("the kernel never gave the phone the other worker")
    fake_openai.script.append(Reply(text="across two workers"))
    _, text, _ = await phone.chat("hello from the other worker")
    assert text == "across two workers"

    # The Node's worker dies: the supervisor starts it again, the phone (on the other worker)
    # keeps its socket and hears the Node come back, and the chat goes on.
    while not phone.control.empty():
        phone.control.get_nowait()
    os.kill(workers[node_on], 9)
    supervisor = relay.proc.pid
    _wait_for(lambda: len(_pids(supervisor)) == 2 and workers[node_on] not in _pids(supervisor))
    async with asyncio.timeout(40):
        while not (await phone.next_control(timeout=40, kind=m.Presence)).online:
            pass
    await phone.handshake()
    fake_openai.script.append(Reply(text="still here"))
    _, text, _ = await phone.chat("are you back?")
    assert text == "still here"
    assert "exited with -9; starting it again" in relay.log_path.read_text()

    await phone.close()
    await link.stop()
    await rt.close()
    # SIGTERM to the instance stops every worker, and the port is free again.
    now = _pids(relay.proc.pid)
    relay.stop()
    _wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in now), timeout=15)
    socket.create_server(("127.0.0.1", relay.port)).close()  # nobody listens there any more


def test_several_workers_without_a_shared_database_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run(
        [sys.executable, "-m", "relay_server", "--port", "0", "--data-dir", str(tmp_path)],
        cwd=REPO,
        env={**env, "ORA_RELAY_WORKERS": "3"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "DATABASE_URL and REDIS_URL" in done.stderr
    assert not any(tmp_path.iterdir()), "nothing was started"


def test_the_instance_limits_are_shared_among_its_workers() -> None:
    """The kernel spreads one client's connections over every worker: each gets its share of
    what the operator set for the instance, so the instance as a whole keeps to it."""
    from relay_server.settings import RelaySettings
    from relay_server.workers import worker_env

    settings = RelaySettings(
        workers=4, accept_per_s=600.0, accept_burst=1000, ip_attempts_per_minute=20
    )
    env = worker_env(settings, 3)
    assert float(env["ORA_RELAY_ACCEPT_PER_S"]) * 4 == 600.0
    assert int(env["ORA_RELAY_ACCEPT_BURST"]) == 250
    assert int(env["ORA_RELAY_IP_ATTEMPTS_PER_MINUTE"]) == 5
    assert env["ORA_RELAY_WORKER_INDEX"] == "3" and env["ORA_RELAY_WORKERS"] == "1"
    unlimited = worker_env(RelaySettings(workers=4), 0)
    assert float(unlimited.get("ORA_RELAY_ACCEPT_PER_S", "0")) == 0.0, "unlimited stays so"
