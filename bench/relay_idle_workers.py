"""100,000 idle phones on one Relay instance run as several workers (issue 26).

    BENCH_ONLY=idle python bench/relay.py                       # part of the idle bench
    BENCH_IDLE_N=100000 python bench/relay_idle_workers.py      # just this

One process holds at most its file-descriptor limit of sockets (20,000 on the machine this was
written on, whose sandbox cannot raise it), so an instance that must carry more runs as
`ORA_RELAY_WORKERS` processes on one port (relay_server/workers.py): the number here is the
fewest whose share (the kernel spreads connections evenly, within a few percent) stays under
80 % of that limit (`BENCH_IDLE_WORKERS` sets it). The workers are a cluster, so this runs on
the machine's PostgreSQL (a database made and dropped here) and Redis (a key prefix of its own).

The phones are bench/relay_idle.py's raw clients, 10,000 per process, each process on its own
127.0.1.x source address. Reported: `kb_per_idle_conn_workers` (the instance's RSS, supervisor
and workers, over its figure with 5 chatting pairs, divided by the phones held; the kernel's
socket memory is not in it) and, at 100k, `kb_per_idle_conn_100k` and `accept_s_100k`;
`idle_cpu_pct_workers` (the workers' CPU together, in % of one core, while they only keep the
phones alive with their heartbeat) and the chatting pairs' latency beside the phones.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import asyncpg

from bench.relay import PACED_RATE, REPO, free_port, measure, rss_kb, wait_ready
from bench.relay_idle import IDLE_WINDOW_S, PhoneFleet, cpu_s, phone_rows, raise_fd_limit
from protocol import messages as m
from protocol.tokens import new_token, token_hash
from protocol.version import PROTOCOL_VERSION
from relay_server.storage import PostgresStore
from relay_server.token_service import TokenService

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
CHATTING = 5
# The Relay's ping period here (its default is 20 s): at 100k phones on a small machine the
# heartbeat is most of the CPU, and a pong that waits past half a period cuts the phone.
HEARTBEAT_S = float(os.environ.get("BENCH_IDLE_HEARTBEAT_S", "20"))


def workers_for(n: int, fd_limit: int) -> int:
    """The fewest workers whose even share of n phones stays under 80 % of the fd limit."""
    if os.environ.get("BENCH_IDLE_WORKERS"):
        return int(os.environ["BENCH_IDLE_WORKERS"])
    return max(1, math.ceil(n / (0.8 * fd_limit)))


class Instance:
    """The supervisor and its workers on one port, over a database of their own."""

    def __init__(self, workers: int, dsn: str, data_dir: Path) -> None:
        self.workers = workers
        self.port = free_port()
        self.metrics_base = free_port()  # worker i: this + i (taken if busy: the bench says so)
        self.env = {
            **os.environ,
            "ORA_RELAY_WORKERS": str(workers),
            "ORA_RELAY_WORKER_METRICS_PORT": str(self.metrics_base),
            "DATABASE_URL": dsn,
            "REDIS_URL": REDIS_URL,
            "ORA_RELAY_REDIS_PREFIX": f"ora-bench-{uuid.uuid4().hex[:8]}",
            "ORA_RELAY_HEARTBEAT_S": str(HEARTBEAT_S),
        }
        self.data_dir = data_dir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
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
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=(self.data_dir / "relay.log").open("ab"),
        )
        for i in range(self.workers):
            wait_ready(f"http://127.0.0.1:{self.metrics_base + i}/readyz")

    def pids(self) -> list[int]:
        assert self.proc is not None
        out = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False
        )
        return [self.proc.pid, *(int(p) for p in out.stdout.split())]

    def rss_kb(self) -> int:
        return sum(rss_kb(pid) for pid in self.pids())

    def devices_connected(self) -> int:
        """Phones the workers hold now, by their own count (a phone whose pong came too late
        was cut by the heartbeat and is not held any more)."""
        total = 0
        for i in range(self.workers):
            url = f"http://127.0.0.1:{self.metrics_base + i}/metrics"
            with urllib.request.urlopen(url, timeout=10) as resp:
                for line in resp.read().decode().splitlines():
                    if line.startswith('ora_relay_connections{role="device"}'):
                        total += int(float(line.rsplit(" ", 1)[1]))
        return total

    def cpu_s(self) -> float:
        return sum(cpu_s(pid) for pid in self.pids())

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(60)

    async def connect(
        self, http: aiohttp.ClientSession, role: str, token: str
    ) -> aiohttp.ClientWebSocketResponse:
        ws = await http.ws_connect(f"http://127.0.0.1:{self.port}/v1/ws")
        await ws.send_str(m.encode(m.Hello(version=PROTOCOL_VERSION, role=role, token=token)))  # type: ignore[arg-type]
        welcome = m.decode((await ws.receive(timeout=60)).data)
        assert isinstance(welcome, m.Welcome), welcome
        return ws


async def _write_phones(dsn: str, n: int) -> tuple[list[str], list[tuple[str, str, str]]]:
    """n idle phones (bulk COPY) and CHATTING pairs (through the store, as the Relay would
    have written them): their tokens, and the pairs' (node id, node credential, access)."""
    store = await PostgresStore.connect(dsn)  # makes the schema
    pairs = []
    tokens_service = TokenService(store, 6 * 3600, 6 * 3600)
    for _ in range(CHATTING):
        node_id, device_id, credential = str(uuid.uuid4()), str(uuid.uuid4()), new_token("nd")
        await store.add_node(node_id, token_hash(credential), "x")
        await store.add_device(device_id, node_id, "owner")
        issued = await tokens_service.issue(device_id)
        pairs.append((node_id, credential, issued.access_token))
    await store.close()
    tokens, tables = phone_rows(n)
    db = await asyncpg.connect(dsn)
    try:
        for table, (columns, rows) in tables.items():
            await db.copy_records_to_table(table, records=rows, columns=columns)
    finally:
        await db.close()
    return tokens, pairs


async def run_idle_workers(results: dict[str, Any], n: int) -> None:
    """Hold n idle phones on one instance of as many workers as the fd limit asks for."""
    limit = raise_fd_limit()
    workers = workers_for(n, limit)
    name = f"ora_bench_idle_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
    data_dir = Path(tempfile.mkdtemp(prefix=name))
    instance = Instance(workers, dsn, data_dir)
    try:
        t = time.perf_counter()
        tokens, pairs = await _write_phones(dsn, n)
        print(f"idle/workers: {n} phones written in {time.perf_counter() - t:.1f} s", flush=True)
        instance.start()
        results.update(await _idle(instance, tokens, pairs))
        results["relay_workers"] = workers
        results["idle_workers_fd_limit"] = limit
    finally:
        instance.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _idle(
    instance: Instance, tokens: list[str], pairs: list[tuple[str, str, str]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def chatting() -> list[Any]:
            return [
                (
                    await instance.connect(http, "device", access),
                    await instance.connect(http, "node", credential),
                    node_id,
                )
                for node_id, credential, access in pairs
            ]

        socks = await chatting()
        await measure(socks, 256, 5, PACED_RATE)
        alone = await measure(socks, 256, 40, PACED_RATE)
        await asyncio.sleep(1.0)
        before = instance.rss_kb()
        t0 = time.perf_counter()
        fleet = PhoneFleet(instance.port, tokens)
        reports = await fleet.reports()
        accept_s = time.perf_counter() - t0
        held = sum(int(r["ok"]) for r in reports)  # type: ignore[call-overload]
        failed = sum(int(r["failed"]) for r in reports)  # type: ignore[call-overload]
        why: dict[str, int] = {}  # what the failed attempts met (each phone tried again)
        for r in reports:
            for reason, count in dict(r.get("failures") or {}).items():  # type: ignore[call-overload]
                why[reason] = why.get(reason, 0) + int(count)
        await asyncio.sleep(3.0)
        after = instance.rss_kb()
        per_worker = [rss_kb(pid) for pid in instance.pids()[1:]]
        for device, node, _ in socks:  # nobody would read them (or answer pings) meanwhile
            await device.close()
            await node.close()
        c0, w0 = instance.cpu_s(), time.perf_counter()
        await asyncio.sleep(IDLE_WINDOW_S)
        idle_cpu = (instance.cpu_s() - c0) / (time.perf_counter() - w0) * 100
        still = instance.devices_connected()
        socks = await chatting()
        await measure(socks, 256, 5, PACED_RATE)
        beside = await measure(socks, 256, int(IDLE_WINDOW_S * PACED_RATE), PACED_RATE)
        kb = (after - before) / max(1, held)
        out.update(
            {
                "idle_workers_connections_held": held,
                "idle_workers_connect_failed": failed,
                "idle_workers_connect_failures": why,
                "idle_workers_connections_after_window": still,
                "idle_workers_heartbeat_s": HEARTBEAT_S,
                "kb_per_idle_conn_workers": round(kb, 2),
                "idle_workers_rss_mb": round(after / 1024, 1),
                "idle_workers_rss_mb_each": [round(kb_ / 1024, 1) for kb_ in per_worker],
                "accept_s_workers": round(accept_s, 2),
                "accepts_per_s_workers": round(held / accept_s, 1),
                "idle_cpu_pct_workers": round(idle_cpu, 1),
                "idle_workers_p50_ms_alone": round(alone["p50_ms"], 3),
                "idle_workers_p99_ms_alone": round(alone["p99_ms"], 3),
                "idle_workers_p50_ms_beside": round(beside["p50_ms"], 3),
                "idle_workers_p99_ms_beside": round(beside["p99_ms"], 3),
            }
        )
        if held >= 100_000:
            out["kb_per_idle_conn_100k"] = round(kb, 2)
            out["accept_s_100k"] = round(accept_s, 2)
        print(
            f"idle/workers: {held} phones held by {instance.workers} workers ({failed} attempts "
            f"failed and were tried again: {why}; "
            f"{still} still connected after {IDLE_WINDOW_S:.0f} s idle at a {HEARTBEAT_S:.0f} s "
            "heartbeat), "
            f"{kb:.2f} KB each (RSS {before} -> {after} KB; workers' MB {out['idle_workers_rss_mb_each']}), "
            f"accepted in {accept_s:.1f} s, CPU at idle {idle_cpu:.1f} % of a core, a pair beside "
            f"them p50 {beside['p50_ms']:.2f} p99 {beside['p99_ms']:.2f} ms "
            f"(alone {alone['p50_ms']:.2f} / {alone['p99_ms']:.2f})",
            flush=True,
        )
        fleet.stop()
        for device, node, _ in socks:
            await device.close()
            await node.close()
    return out


if __name__ == "__main__":
    found: dict[str, Any] = {}
    asyncio.run(run_idle_workers(found, int(os.environ.get("BENCH_IDLE_N", "100000"))))
    print(json.dumps(found))
