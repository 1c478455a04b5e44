"""Routing across two Relay instances beside routing within one, and a Redis restart mid-run.

    BENCH_ONLY=cluster python bench/relay.py

Two Relay processes (A, B) on one PostgreSQL database (made and dropped here) and a Redis of
their own (a `redis-server` started here on a free port, so that restarting it disturbs
nobody else). Pairs chat at the paced rate (20 messages a second, 256 B): "same" pairs have
their Node and device on A; "cross" pairs have the Node on A and the device on B, so every
frame goes B -> Redis -> A and the echo A -> Redis -> B. Rounds alternate so that the
machine's noise falls on both alike.

Then Redis, and then PostgreSQL, is stopped for `RESTART_DOWN_S` and started again while the
cross pairs keep chatting: each message waits at most `LOST_AFTER_S` for its echo, else it
counts as lost. Reported per service (`redis_restart_*`, `postgres_restart_*`): frames lost,
pairs whose socket was cut, the longest stretch without any echo (`..._blip_s`), how long
after the service is back a new connection succeeds (`..._hello_back_s`), and whether every
pairing, token and billing record is still there afterwards (`restart_records_lost`).
PostgreSQL here is a server of the bench's own (initdb as the `postgres` user, when the
machine allows it; otherwise the shared one is used and not restarted).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import socket
import subprocess
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
        from bench.relay import spawn_relay

        self.port = _free_port()
        # BENCH_PROFILE=FILE: each instance runs under cProfile, writing FILE.<port>.
        self.proc = spawn_relay(self.port, data_dir, env, profile_suffix=f".{self.port}")

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


class OwnPostgres:
    """A PostgreSQL server of this bench's own (initdb in a temporary directory, run as the
    `postgres` user), so that it can be restarted without disturbing the shared one."""

    def __init__(self) -> None:
        import pwd

        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ora-bench-pg-"))
        self.dir.chmod(0o755)
        user = pwd.getpwnam("postgres")
        os.chown(self.dir, user.pw_uid, user.pw_gid)
        self._as_pg(["initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres"])
        self.start()

    def _as_pg(self, cmd: list[str]) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *cmd],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_pg(
            [
                "pg_ctl",
                "-D",
                str(self.dir / "data"),
                "-o",
                opts,
                "-l",
                str(self.dir / "log"),
                "-w",
                "start",
            ]
        )

    def stop(self) -> None:
        self._as_pg(["pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop"])

    def remove(self) -> None:

        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _own_postgres() -> OwnPostgres | None:
    """Our own PostgreSQL when this machine can run one (root, `runuser`, a `postgres` user)."""
    if os.geteuid() != 0 or not shutil.which("runuser") or not shutil.which("initdb"):
        return None
    try:
        return OwnPostgres()
    except (KeyError, OSError, subprocess.CalledProcessError):
        return None


async def _outage(
    cross: list[Any],
    stop_service: Any,
    start_service: Any,
    hello: Any,
) -> dict[str, float]:
    """Cross-instance pairs chat while a service goes away for RESTART_DOWN_S and comes back:
    frames lost, pairs cut, the longest gap between echoes, and how long after the service is
    back a new connection (a hello) succeeds."""
    stop = asyncio.Event()
    logs: list[list[Any]] = [[] for _ in cross]
    chats = [
        asyncio.create_task(_chat_until(p, stop, log)) for p, log in zip(cross, logs, strict=True)
    ]
    await asyncio.sleep(3.0)
    t_down = time.perf_counter()
    stop_service()
    await asyncio.sleep(RESTART_DOWN_S)
    start_service()
    t_back = time.perf_counter()
    hello_back = -1.0
    for _ in range(100):
        try:
            await hello()
            hello_back = time.perf_counter() - t_back
            break
        except Exception:  # refused while the service reconnects: try again shortly
            await asyncio.sleep(0.1)
    await asyncio.sleep(max(0.0, 10.0 - (time.perf_counter() - t_back)))
    stop.set()
    await asyncio.gather(*chats, return_exceptions=True)
    sent = [entry for log in logs for entry in log]
    cut = sum(1 for _t, rtt in sent if rtt == "cut")
    sent = [(t0, rtt) for t0, rtt in sent if rtt != "cut"]
    lost = sum(1 for _t, rtt in sent if rtt is None)
    ok_at = sorted(t0 for t0, rtt in sent if rtt is not None and t0 >= t_down - 1)
    gaps = [later - earlier for earlier, later in itertools.pairwise(ok_at)]
    return {
        "frames_sent": len(sent),
        "frames_lost": lost,
        "pairs_cut": cut,
        "blip_s": round(max(gaps, default=0.0), 2),
        "hello_back_s": round(hello_back, 2),
    }


async def run_cluster(results: dict[str, float]) -> None:
    from bench.relay import PACED_RATE, _percentiles, measure

    own_pg = _own_postgres()
    admin_dsn = own_pg.admin_dsn if own_pg is not None else ADMIN_DSN
    name = f"ora_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/{name}"
    redis_port = _free_port()
    redis = _redis(redis_port)
    instances: list[Instance] = []
    outages: dict[str, dict[str, float]] = {}
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
                spare = pairs[0][2]  # a device that connects again during each outage

                async def hello() -> None:
                    ws = await b.connect(http, "device", spare)
                    await ws.close()

                def stop_redis() -> None:
                    redis.terminate()
                    redis.wait(10)

                def start_redis() -> None:
                    nonlocal redis
                    redis = _redis(redis_port)

                outages["redis"] = await _outage(cross, stop_redis, start_redis, hello)
                if own_pg is not None:
                    await admin.close()
                    outages["postgres"] = await _outage(cross, own_pg.stop, own_pg.start, hello)
                    admin = await asyncpg.connect(admin_dsn)
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
        if own_pg is not None:
            own_pg.remove()
    results.update(
        {
            "cluster_pairs": PAIRS,
            "p50_ms_256b_same_instance": round(s["p50_ms"], 3),
            "p99_ms_256b_same_instance": round(s["p99_ms"], 3),
            "p50_ms_256b_cross_instance": round(c["p50_ms"], 3),
            "p99_ms_256b_cross_instance": round(c["p99_ms"], 3),
            "cross_instance_extra_ms_p50": round(c["p50_ms"] - s["p50_ms"], 3),
            "restart_down_s": RESTART_DOWN_S,
            "restart_records_lost": sum(before[t] - after[t] for t in before),
        }
    )
    for service, found in outages.items():
        results.update({f"{service}_restart_{k}": v for k, v in found.items()})
    print(
        f"cluster: same instance p50 {s['p50_ms']:.2f} p99 {s['p99_ms']:.2f} ms; across "
        f"instances p50 {c['p50_ms']:.2f} p99 {c['p99_ms']:.2f} ms. Down {RESTART_DOWN_S} s: "
        f"{outages}; records before {before} after {after}",
        flush=True,
    )
