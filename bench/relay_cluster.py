"""Routing across two Relay instances beside routing within one, and a Redis restart mid-run.

    BENCH_ONLY=cluster python bench/relay.py

Two Relay processes (A, B) on one PostgreSQL database (made and dropped here) and a Redis of
their own (a `redis-server` started here on a free port, so that restarting it disturbs
nobody else). Pairs chat at the paced rate (20 messages a second, 256 B): "same" pairs have
their Node and device on A; "cross" pairs have the Node on A and the device on B, so every
frame goes B -> Redis -> A and the echo A -> Redis -> B. Rounds alternate so that the
machine's noise falls on both alike.

Then Redis is stopped and started again while the cross pairs keep chatting: each message
waits at most `LOST_AFTER_S` for its echo, else it counts as lost. Reported: the frames lost,
the longest stretch without any echo (`redis_restart_blip_s`), and whether every pairing,
token and billing record is still there afterwards (they live in PostgreSQL; Redis carries
only presence and deliveries).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from protocol import messages as m
from protocol.tokens import new_token, token_hash
from relay_server.storage import PostgresStore
from relay_server.token_service import TokenService

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PAIRS = 20
ROUNDS = 3
COUNT = 60  # messages per pair per round (3 s at 20/s)
LOST_AFTER_S = 2.0
RESTART_DOWN_S = 1.0  # how long Redis stays down


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Instance:
    """A Relay process of the cluster; `connect` as in bench.relay.Relay."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        from bench.relay import REPO, wait_ready

        self.port = _free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "relay_server",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
            ],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_ready(f"http://127.0.0.1:{self.port}/readyz")

    async def connect(self, http: aiohttp.ClientSession, role: str, token: str) -> Any:
        from bench.relay import Relay

        return await Relay.connect(self, http, role, token)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _redis(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


async def _records(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        return {
            t: int(await conn.fetchval(f"SELECT count(*) FROM {t}"))
            for t in ("nodes", "devices", "tokens", "accounts", "usage_events", "pairings")
        }
    finally:
        await conn.close()


async def _chat_until(pair: tuple[Any, Any, str], stop: asyncio.Event, log: list[Any]) -> None:
    """Send paced frames until stopped; log (sent at, rtt or None when lost)."""
    from bench.relay import PACED_RATE

    device, node, node_id = pair

    async def echo() -> None:
        async for msg in node:
            if msg.type == aiohttp.WSMsgType.BINARY:
                _kind, source, payload = m.unpack_frame(msg.data)
                await node.send_bytes(m.pack_frame(source, payload))

    echoer = asyncio.create_task(echo())
    seq = 0
    while not stop.is_set():
        seq += 1
        tag = seq.to_bytes(8, "big")
        t0 = time.perf_counter()
        await device.send_bytes(m.pack_frame(node_id, tag + os.urandom(248)))
        rtt = None
        try:
            async with asyncio.timeout(LOST_AFTER_S):
                while True:
                    msg = await device.receive()
                    if msg.type == aiohttp.WSMsgType.BINARY and msg.data[17:25] == tag:
                        rtt = time.perf_counter() - t0
                        break
                    if msg.type in (
                        aiohttp.WSMsgType.CLOSE,
                        aiohttp.WSMsgType.CLOSED,
                        aiohttp.WSMsgType.CLOSING,
                        aiohttp.WSMsgType.ERROR,
                    ):
                        log.append((t0, "cut"))  # the Relay closed this phone's socket
                        echoer.cancel()
                        return
        except TimeoutError:
            pass
        log.append((t0, rtt))
        await asyncio.sleep(max(0.0, 1 / PACED_RATE - (time.perf_counter() - t0)))
    echoer.cancel()


async def run_cluster(results: dict[str, float]) -> None:
    from bench.relay import PACED_RATE, _percentiles, measure

    name = f"ora_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
    redis_port = _free_port()
    redis = _redis(redis_port)
    instances: list[Instance] = []
    try:
        store = await PostgresStore.connect(dsn)
        tokens = TokenService(store, 3600, 3600)
        pairs = []
        for _ in range(2 * PAIRS):
            node_id, device_id, credential = str(uuid.uuid4()), str(uuid.uuid4()), new_token("nd")
            await store.add_node(node_id, token_hash(credential), "x")
            await store.add_device(device_id, node_id, "owner")
            await store.ensure_account(node_id, "relay-monthly", "active", 0)
            access = (await tokens.issue(device_id)).access_token
            pairs.append((node_id, credential, access))
        await store.close()
        env = {"DATABASE_URL": dsn, "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
        with tempfile.TemporaryDirectory() as tmp:
            for where in ("a", "b"):
                (Path(tmp) / where).mkdir()
                instances.append(Instance(Path(tmp) / where, env))
            a, b = instances
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                same: list[Any] = []
                cross: list[Any] = []
                for i, (node_id, credential, access) in enumerate(pairs):
                    node = await a.connect(http, "node", credential)
                    device = await (a if i < PAIRS else b).connect(http, "device", access)
                    (same if i < PAIRS else cross).append((device, node, node_id))
                await measure(same, 256, 5, PACED_RATE)
                await measure(cross, 256, 5, PACED_RATE)
                pooled: dict[str, list[float]] = {"same": [], "cross": []}
                for _ in range(ROUNDS):
                    for label, group in (("same", same), ("cross", cross)):
                        await measure(group, 256, COUNT, PACED_RATE, pooled[label])
                s, c = _percentiles(pooled["same"]), _percentiles(pooled["cross"])
                before = await _records(dsn)
                # Redis goes away and comes back while the cross pairs chat.
                stop = asyncio.Event()
                logs: list[list[Any]] = [[] for _ in cross]
                chats = [
                    asyncio.create_task(_chat_until(p, stop, log))
                    for p, log in zip(cross, logs, strict=True)
                ]
                await asyncio.sleep(3.0)
                t_down = time.perf_counter()
                redis.terminate()
                redis.wait(10)
                await asyncio.sleep(RESTART_DOWN_S)
                redis = _redis(redis_port)
                await asyncio.sleep(10.0)
                stop.set()
                await asyncio.gather(*chats, return_exceptions=True)
                after = await _records(dsn)
                for device, node, _id in same + cross:
                    await device.close()
                    await node.close()
    finally:
        for inst in instances:
            inst.stop()
        redis.terminate()
        redis.wait(10)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    sent = [entry for log in logs for entry in log]
    cut = sum(1 for _t, rtt in sent if rtt == "cut")
    sent = [(t0, rtt) for t0, rtt in sent if rtt != "cut"]
    lost = sum(1 for _t, rtt in sent if rtt is None)
    ok_at = sorted(t0 for t0, rtt in sent if rtt is not None and t0 >= t_down - 1)
    gaps = [later - earlier for earlier, later in itertools.pairwise(ok_at)]
    blip = max(gaps, default=0.0)
    results.update(
        {
            "cluster_pairs": PAIRS,
            "p50_ms_256b_same_instance": round(s["p50_ms"], 3),
            "p99_ms_256b_same_instance": round(s["p99_ms"], 3),
            "p50_ms_256b_cross_instance": round(c["p50_ms"], 3),
            "p99_ms_256b_cross_instance": round(c["p99_ms"], 3),
            "cross_instance_extra_ms_p50": round(c["p50_ms"] - s["p50_ms"], 3),
            "redis_restart_down_s": RESTART_DOWN_S,
            "redis_restart_frames_sent": len(sent),
            "redis_restart_frames_lost": lost,
            "redis_restart_pairs_cut": cut,
            "redis_restart_blip_s": round(blip, 2),
            "redis_restart_records_lost": sum(before[t] - after[t] for t in before),
        }
    )
    print(
        f"cluster: same instance p50 {s['p50_ms']:.2f} p99 {s['p99_ms']:.2f} ms; across "
        f"instances p50 {c['p50_ms']:.2f} p99 {c['p99_ms']:.2f} ms. Redis down "
        f"{RESTART_DOWN_S} s: {lost} of {len(sent)} frames lost, {cut} pairs cut, longest gap {blip:.2f} s, "
        f"records before {before} after {after}",
        flush=True,
    )
