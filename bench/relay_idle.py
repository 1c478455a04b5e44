"""Idle phones on one Relay instance, and a reconnect storm (issue 26).

    BENCH_ONLY=idle python bench/relay.py                  # 100,000 idle phones
    BENCH_IDLE_N=20000 BENCH_ONLY=idle python bench/relay.py

The phones are raw, minimal WebSocket clients (an asyncio Protocol: the upgrade, a hello, pongs
for the Relay's pings, nothing else) in several processes of their own, each bound to its own
127.0.1.x source address so that loopback's ephemeral ports (~28k per address pair) do not
run out. Every phone is a paired owner device with its own Node (offline) and an active
account, written straight into the Relay's SQLite database before it starts.

Reported: `kb_per_idle_conn` (the Relay's RSS over its figure with one connection, divided by
the connections; the kernel's socket memory is not in it), `accept_s_100k` (the time until all
are welcomed, every process connecting 200 at a time), `idle_cpu_pct` (the Relay's CPU while
it only keeps them alive with its heartbeat), and the latency of 5 chatting pairs beside them.

Reconnect storm: `STORM_N` phones connect all at once (as when the instance they were on
restarts) to a Relay configured to accept `STORM_ACCEPT_PER_S` new sockets a second; beyond
that it answers 503 + Retry-After and the phone comes back after that (with jitter).
`reconnect_storm_refused` counts every other failure (resets, timeouts, errors: target 0),
`reconnect_storm_rate_limited` the 503s, `reconnect_storm_s` the time until all are in, and
the chatting pairs' p50/p99 before and during.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from protocol import messages as m
from protocol.tokens import new_token, token_hash
from protocol.version import PROTOCOL_VERSION

IDLE_N = int(os.environ.get("BENCH_IDLE_N", "2000" if os.environ.get("BENCH_QUICK") else "100000"))
PER_PROCESS = 10_000  # phones per client process (one source address each)
STORM_PER_PROCESS = 2_000
CONNECT_AT_ONCE = 200
WELCOME_TIMEOUT_S = 60.0  # a phone gives up on a connection that has not said welcome by then  # connection attempts in flight per client process
STORM_N = min(int(os.environ.get("BENCH_STORM_N", "10000")), IDLE_N)
# What one instance here takes while its connected pairs keep a short tail (its hellos are
# CPU on the same event loop as routing); 10k phones then come back within ~20-40 s.
# Unset: 70 % of the accept rate the idle phase measured (configured past what the instance
# can take, hellos wait past their timeout and fail).
STORM_ACCEPT_PER_S = float(os.environ.get("BENCH_STORM_ACCEPT_PER_S", "0"))
STORM_ACCEPT_BURST = int(os.environ.get("BENCH_STORM_ACCEPT_BURST", "0"))
# Longer than one heartbeat period: every connection is pinged in it.
IDLE_WINDOW_S = float(os.environ.get("BENCH_IDLE_WINDOW_S", "30"))
HEARTBEAT_S = 20.0  # the Relay's default
# Only the storm (with BENCH_STORM_ACCEPT_PER_S set: the idle phase is what measures the rate
# otherwise): BENCH_IDLE_N phones are written to the database, none held before the storm.
SKIP_IDLE = bool(os.environ.get("BENCH_STORM_ONLY"))


def raise_fd_limit() -> int:
    """Room for every socket: the Relay process inherits this. Raising the hard limit needs
    CAP_SYS_RESOURCE; without it the soft limit goes up to the hard one. Returns the limit."""
    want = 1_048_576
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (ValueError, OSError):
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


Rows = list[tuple[Any, ...]]


def phone_rows(n: int) -> tuple[list[str], dict[str, tuple[list[str], Rows]]]:
    """n paired owner devices, each with its Node and an active account: their access tokens,
    and per table the columns and rows that make them."""
    now = time.time()
    tokens: list[str] = []
    nodes: Rows = []
    devices: Rows = []
    accounts: Rows = []
    rows: Rows = []
    for _ in range(n):
        node_id, device_id, access = str(uuid.uuid4()), str(uuid.uuid4()), new_token("at")
        nodes.append((node_id, token_hash(new_token("nd")), "x", now))
        devices.append((device_id, node_id, "owner", now))
        accounts.append((node_id, "relay-monthly", "active", now, 0, now))
        rows.append((token_hash(access), "at", device_id, str(uuid.uuid4()), now + 6 * 3600))
        tokens.append(access)
    return tokens, {
        "nodes": (["node_id", "credential_hash", "public_key", "created_at"], nodes),
        "devices": (["device_id", "node_id", "role", "created_at"], devices),
        "accounts": (
            ["account_id", "plan", "status", "status_at", "budget_nusd", "created_at"],
            accounts,
        ),
        "tokens": (["token_hash", "kind", "device_id", "family_id", "expires_at"], rows),
    }


def make_phones(data_dir: Path, n: int, db_ready: Path) -> list[str]:
    """`phone_rows`, written in bulk into the Relay's SQLite database (`db_ready`: made by the
    Relay's store); their access tokens."""
    tokens, tables = phone_rows(n)
    db = sqlite3.connect(db_ready)
    with db:
        for table, (columns, rows) in tables.items():
            marks = ",".join("?" * len(columns))
            db.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)
    db.close()
    del data_dir
    return tokens


# ---- the phones' side (run as `python bench/relay_idle.py --phones PORT SRC STORM`) ----


class Phone(asyncio.Protocol):
    """A minimal WebSocket client: upgrade, hello, then answer pings until told to stop."""

    def __init__(self, port: int, hello: bytes, done: asyncio.Future[str]) -> None:
        self.port = port
        self.hello = hello
        self.done = done
        self.buf = b""
        self.upgraded = False
        self.retry_after = 1.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(
            b"GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n" % self.port
        )

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = self.buf[: self.buf.find(b"\r\n")]
            if b" 101 " not in status:
                head = self.buf[:end].lower()
                at = head.find(b"retry-after:")
                if at >= 0:
                    self.retry_after = float(head[at + 12 :].split(b"\r\n", 1)[0].strip())
                self._finish("busy" if b" 503 " in status else f"http {status[:40]!r}")
                assert self.transport is not None
                self.transport.close()
                return
            self.upgraded = True
            self.buf = self.buf[end + 4 :]
            self._send(0x1, self.hello)
        self._frames()

    def _frames(self) -> None:
        while len(self.buf) >= 2:
            opcode, size, at = self.buf[0] & 0x0F, self.buf[1] & 0x7F, 2
            if size == 126:
                if len(self.buf) < 4:
                    return
                size, at = int.from_bytes(self.buf[2:4], "big"), 4
            elif size == 127:
                if len(self.buf) < 10:
                    return
                size, at = int.from_bytes(self.buf[2:10], "big"), 10
            if len(self.buf) < at + size:
                return
            payload, self.buf = self.buf[at : at + size], self.buf[at + size :]
            if opcode == 0x9:
                self._send(0xA, payload)  # pong
            elif opcode == 0x1 and not self.done.done():
                self._finish("ok" if b'"welcome"' in payload else f"said {payload[:60]!r}")
            elif opcode == 0x8:
                self._finish("closed")
                assert self.transport is not None
                self.transport.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        # Masked with a zero key: valid, and no XOR to compute (the Relay does not care).
        size = len(payload)
        head = bytes([0x80 | opcode])
        if size < 126:
            head += bytes([0x80 | size])
        else:
            head += bytes([0x80 | 126]) + size.to_bytes(2, "big")
        assert self.transport is not None
        self.transport.write(head + b"\0\0\0\0" + payload)

    def _finish(self, outcome: str) -> None:
        if not self.done.done():
            self.done.set_result(outcome)

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish("lost")


def phone_retry_after(said: float) -> float:
    return said + random.uniform(0, 1.0)  # Retry-After is whole seconds: spread over one


async def phones_main(port: int, src: str, storm: bool) -> None:
    """Connect every token read from stdin (a JSON list); print one JSON line of what it saw,
    then hold the sockets until stdin closes."""
    raise_fd_limit()
    tokens: list[str] = json.loads(sys.stdin.readline())
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(len(tokens) if storm else CONNECT_AT_ONCE)
    counts = {"ok": 0, "busy": 0, "failed": 0}
    failures: dict[str, int] = {}
    held: list[asyncio.BaseTransport] = []
    t0 = time.perf_counter()

    async def one(token: str) -> None:
        said = m.Hello(version=PROTOCOL_VERSION, role="device", token=token)  # type: ignore[arg-type]
        hello = m.encode(said).encode()
        retry_after = 1.0
        for _attempt in range(50):
            done: asyncio.Future[str] = loop.create_future()
            transport = None
            async with gate:
                try:
                    transport, phone = await loop.create_connection(
                        partial(Phone, port, hello, done), "127.0.0.1", port, local_addr=(src, 0)
                    )
                    retry_after = phone.retry_after if isinstance(phone, Phone) else 1.0
                    outcome = await asyncio.wait_for(done, WELCOME_TIMEOUT_S)
                except (OSError, TimeoutError) as err:
                    outcome = type(err).__name__
            if outcome != "ok" and transport is not None:
                transport.abort()  # a phone that gives up drops its socket before trying again
            if outcome == "ok":
                counts["ok"] += 1
                assert transport is not None
                held.append(transport)
                return
            if outcome == "busy":
                # Past the configured accept rate: come back when the Relay says (it hands
                # out slots at its rate), with a little jitter, as a native client does.
                counts["busy"] += 1
                await asyncio.sleep(phone_retry_after(retry_after))
                continue
            counts["failed"] += 1
            failures[outcome] = failures.get(outcome, 0) + 1
            await asyncio.sleep(0.5 + random.random())

    await asyncio.gather(*(one(t) for t in tokens))
    report = {**counts, "s": round(time.perf_counter() - t0, 3), "failures": failures}
    print(json.dumps(report), flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    for transport in held:
        transport.abort()


# ---- the bench's side ----


class PhoneFleet:
    """Client processes holding phones, one source address each."""

    def __init__(self, port: int, tokens: list[str], storm: bool = False) -> None:
        self.procs: list[subprocess.Popen[str]] = []
        # A storm has every attempt in flight at once: more, smaller processes, so that the
        # phones' own event loops are not what delays their hellos past the Relay's timeout.
        per = STORM_PER_PROCESS if storm else PER_PROCESS
        for i in range(0, len(tokens), per):
            proc = subprocess.Popen(
                [sys.executable, __file__, "--phones", str(port), f"127.0.1.{1 + i // per}"]
                + (["--storm"] if storm else []),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=Path(__file__).resolve().parents[1],
            )
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(tokens[i : i + per]) + "\n")
            proc.stdin.flush()
            self.procs.append(proc)

    async def reports(self) -> list[dict[str, object]]:
        async def read(proc: subprocess.Popen[str]) -> dict[str, object]:
            assert proc.stdout is not None
            line = await asyncio.to_thread(proc.stdout.readline)
            return json.loads(line) if line else {"ok": 0, "failed": -1}

        return list(await asyncio.gather(*(read(p) for p in self.procs)))

    def stop(self) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.close()
        for proc in self.procs:
            proc.wait(120)


async def gc_pauses(port: int) -> dict[str, float]:
    """The Relay's collector pauses so far, from /metrics: per generation, the count, the
    total seconds and the upper bound of the largest bucket any pause fell in."""
    url = f"http://127.0.0.1:{port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        text = await resp.text()
    found: dict[str, float] = {}
    last_count: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("ora_relay_gc_pause_seconds"):
            continue
        name, value = line.rsplit(" ", 1)
        gen = name.split('generation="')[1].split('"')[0]
        if name.startswith("ora_relay_gc_pause_seconds_count"):
            found[f"gen{gen}_count"] = float(value)
        elif name.startswith("ora_relay_gc_pause_seconds_sum"):
            found[f"gen{gen}_s"] = float(value)
        elif 'le="' in name:
            le = name.split('le="')[1].split('"')[0]
            if float(value) > last_count.get(gen, 0.0) and le != "+Inf":
                found[f"gen{gen}_max_le_s"] = float(le)
            elif float(value) > last_count.get(gen, 0.0):
                found[f"gen{gen}_max_le_s"] = float("inf")
            last_count[gen] = float(value)
    return found


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _chatting(relay: Any, http: aiohttp.ClientSession, n: int) -> list[Any]:
    pairs = []
    for node_id, credential, _device_id, access in relay.pairs[:n]:
        node = await relay.connect(http, "node", credential)
        device = await relay.connect(http, "device", access)
        pairs.append((device, node, node_id))
    return pairs


async def run_idle_scale(results: dict[str, float]) -> None:
    """Hold IDLE_N idle phones on one Relay; then restart it (configured with an accept rate)
    and let STORM_N of them come back at once."""
    from bench.relay import Relay

    limit = raise_fd_limit()
    if limit - 200 < IDLE_N:
        # More phones than one process may hold sockets: the instance as several workers.
        from bench.relay_idle_workers import run_idle_workers

        await run_idle_workers(results, IDLE_N)
    # One socket per phone in the Relay process: the file-descriptor limit is its ceiling
    # (minus the chatting pairs, the database, the listener...). Said in the results.
    n = min(IDLE_N, limit - 200)
    results["idle_fd_limit"] = limit
    results["idle_connections_asked"] = IDLE_N
    if n < IDLE_N:
        print(f"idle: fd limit {limit} here: {n} phones instead of {IDLE_N}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        relay = await Relay(Path(tmp), 5).start()  # 5 chatting pairs; makes the schema
        relay.stop()
        t = time.perf_counter()
        tokens = make_phones(Path(tmp), n, Path(tmp) / "relay.db")
        print(f"idle: {n} phones written in {time.perf_counter() - t:.1f} s", flush=True)
        if not (SKIP_IDLE and STORM_ACCEPT_PER_S):
            _restart(relay, {})
            try:
                results.update(await _idle(relay, tokens))
            finally:
                relay.stop()
        if STORM_N <= 0:
            return
        rate = STORM_ACCEPT_PER_S or max(20.0, round(0.7 * results["accepts_per_s"]))
        storm_env = {
            "ORA_RELAY_ACCEPT_PER_S": str(rate),
            "ORA_RELAY_ACCEPT_BURST": str(STORM_ACCEPT_BURST or int(rate)),
        }
        results["reconnect_storm_accept_per_s"] = rate
        _restart(relay, storm_env)
        try:
            results.update(await _storm(relay, tokens[: min(STORM_N, n)]))
        finally:
            relay.stop()


def _restart(relay: Any, env: dict[str, str]) -> None:
    """Start the Relay process again on its port, over the same data directory."""
    from bench.relay import spawn_relay

    relay.proc = spawn_relay(relay.port, relay.data_dir, env)


async def _idle(relay: Any, tokens: list[str]) -> dict[str, float]:
    from bench.relay import PACED_RATE as rate
    from bench.relay import measure, rss_kb

    out: dict[str, float] = {}
    pid = relay.proc.pid
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        chatting = await _chatting(relay, http, 5)
        await measure(chatting, 256, 5, rate)
        alone = await measure(chatting, 256, 40, rate)
        await asyncio.sleep(1.0)
        before = rss_kb(pid)
        t0 = time.perf_counter()
        fleet = PhoneFleet(relay.port, tokens)
        reports = await fleet.reports()
        accept_s = time.perf_counter() - t0
        held = sum(int(r["ok"]) for r in reports)  # type: ignore[call-overload]
        failed = sum(int(r["failed"]) for r in reports)  # type: ignore[call-overload]
        await asyncio.sleep(3.0)
        after = rss_kb(pid)
        # CPU while the Relay only keeps them alive (its heartbeat: a ping each per period).
        c0, w0 = cpu_s(pid), time.perf_counter()
        await asyncio.sleep(IDLE_WINDOW_S)
        idle_cpu = (cpu_s(pid) - c0) / (time.perf_counter() - w0) * 100
        # Nobody read the chatting pairs' sockets meanwhile (so nobody answered the Relay's
        # pings, and it closed them): connect them again.
        for device, node, _id in chatting:
            await device.close()
            await node.close()
        chatting = await _chatting(relay, http, 5)
        await measure(chatting, 256, 5, rate)
        gc0 = await gc_pauses(relay.port)
        beside = await measure(chatting, 256, int(IDLE_WINDOW_S * rate), rate)
        gc1 = await gc_pauses(relay.port)
        for gen in "012":
            out[f"idle_gc{gen}_pauses_beside"] = gc1.get(f"gen{gen}_count", 0) - gc0.get(
                f"gen{gen}_count", 0
            )
            out[f"idle_gc{gen}_pause_s_beside"] = round(
                gc1.get(f"gen{gen}_s", 0) - gc0.get(f"gen{gen}_s", 0), 3
            )
        top = gc1.get("gen2_max_le_s", 0.0)
        out["idle_gc2_max_pause_le_s"] = top if top != float("inf") else -1.0  # -1: > 2.5 s
        # The same window with nothing but the chatting pairs would cost this much:
        kb = (after - before) / max(1, held)
        out.update(
            {
                "idle_connections_held": held,
                "idle_connect_failed": failed,
                "kb_per_idle_conn_scale": round(kb, 2),
                "idle_rss_mb": round(after / 1024, 1),
                "accept_s": round(accept_s, 2),
                "accepts_per_s": round(held / accept_s, 1),
                "idle_cpu_pct": round(idle_cpu, 1),
                "idle_p50_ms_alone": round(alone["p50_ms"], 3),
                "idle_p99_ms_alone": round(alone["p99_ms"], 3),
                "idle_p50_ms_beside": round(beside["p50_ms"], 3),
                "idle_p99_ms_beside": round(beside["p99_ms"], 3),
            }
        )
        if held >= 100_000:
            out["kb_per_idle_conn_100k"] = round(kb, 2)
            out["accept_s_100k"] = round(accept_s, 2)
        elif held:
            # Fewer than 100k fit this machine (see idle_fd_limit): the accept time scaled
            # linearly (hellos are independent, each a fixed amount of CPU and queries).
            out["accept_s_100k_extrapolated"] = round(accept_s * 100_000 / held, 1)
        print(
            f"idle: {held} phones held ({failed} failed), {kb:.2f} KB each (RSS {before} -> "
            f"{after} KB), accepted in {accept_s:.1f} s, CPU at idle {idle_cpu:.1f} %, a pair "
            f"beside them p50 {beside['p50_ms']:.2f} p99 {beside['p99_ms']:.2f} ms "
            f"(alone {alone['p50_ms']:.2f} / {alone['p99_ms']:.2f})",
            flush=True,
        )
        fleet.stop()
        for device, node, _id in chatting:
            await device.close()
            await node.close()
    return out


async def _storm(relay: Any, tokens: list[str]) -> dict[str, float]:
    """Right after a restart: the chatting pairs are back, then every phone at once."""
    from bench.relay import PACED_RATE as rate
    from bench.relay import _percentiles, measure

    out: dict[str, float] = {}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        chatting = await _chatting(relay, http, 5)
        await measure(chatting, 256, 5, rate)
        alone = await measure(chatting, 256, 40, rate)
        # All STORM_N attempts in flight at once, beside the chatting pairs.
        storm = PhoneFleet(relay.port, tokens, storm=True)
        t0 = time.perf_counter()
        over = asyncio.Event()
        rtts: list[float] = []

        async def chat() -> None:
            while not over.is_set():
                await measure(chatting, 256, 20, rate, rtts)

        gc0 = await gc_pauses(relay.port)
        during_task = asyncio.create_task(chat())
        storm_reports = await storm.reports()
        storm_s = time.perf_counter() - t0
        over.set()
        await during_task
        gc1 = await gc_pauses(relay.port)
        during = _percentiles(rtts)
        if os.environ.get("BENCH_STORM_DUMP"):
            Path(os.environ["BENCH_STORM_DUMP"]).write_text(json.dumps(rtts))
        storm.stop()
        refused = sum(int(r["failed"]) for r in storm_reports)  # type: ignore[call-overload]
        limited = sum(int(r["busy"]) for r in storm_reports)  # type: ignore[call-overload]
        storm_ok = sum(int(r["ok"]) for r in storm_reports)  # type: ignore[call-overload]
        out.update(
            {
                "reconnect_storm_n": len(tokens),
                "reconnect_storm_in": storm_ok,
                "reconnect_storm_refused": refused,
                "reconnect_storm_rate_limited": limited,
                "reconnect_storm_s": round(storm_s, 2),
                "reconnect_storm_p50_ms_before": round(alone["p50_ms"], 3),
                "reconnect_storm_p99_ms_before": round(alone["p99_ms"], 3),
                "reconnect_storm_p50_ms_during": round(during["p50_ms"], 3),
                "reconnect_storm_p99_ms_during": round(during["p99_ms"], 3),
                "reconnect_storm_max_ms_during": round(max(rtts), 3),
                # The collector's full passes while 10k connections' objects pile up.
                "reconnect_storm_gc2_pauses": gc1.get("gen2_count", 0) - gc0.get("gen2_count", 0),
                "reconnect_storm_gc1_pause_s": round(
                    gc1.get("gen1_s", 0) - gc0.get("gen1_s", 0), 3
                ),
                "reconnect_storm_gc2_pause_s": round(
                    gc1.get("gen2_s", 0) - gc0.get("gen2_s", 0), 3
                ),
            }
        )
        print(
            f"storm: {len(tokens)} at once, {storm_ok} in after {storm_s:.1f} s, {refused} refused, "
            f"{limited} told to come back; a pair "
            f"meanwhile p50 {during['p50_ms']:.2f} p99 {during['p99_ms']:.2f} ms "
            f"(failures {[r.get('failures') for r in storm_reports]})",
            flush=True,
        )
        for device, node, _id in chatting:
            await device.close()
            await node.close()
    return out


if __name__ == "__main__":
    if sys.argv[1:2] == ["--phones"]:
        asyncio.run(phones_main(int(sys.argv[2]), sys.argv[3], "--storm" in sys.argv))
