"""Routing latency with Web Push sending under load, beside the same routing without it.

One Relay process, its devices subscribed at a real push service on loopback (web-push-testing:
it checks VAPID and decrypts every push). PAIRS pairs chat paced at PACED_RATE messages a second
(as in bench/relay.py); during the "push" rounds their Nodes also send `notify` messages (an
approval waiting, a sealed text per device) at PUSH_RATE a second in all, which the Relay
encrypts and POSTs to the push service. Rounds alternate quiet / quiet / push to spread the
machine's noise over all three; `push_*_noise_pct` compares the two quiet runs (A against A):
a change smaller than that noise is not a change this machine can see. Target: p50 and p99
change by no more than 5 %. BENCH_PUSH_RATE sets the load (default 10 pushes a second: an
approval a day for each of ~850k owners, far above one Relay's share).

Then `push_routing_*`: WINDOWS short windows each without pushes, with them, and without again,
alternating in order, pooled: `push_routing_p50_ms_with` / `_without` and their `_ratio` (target
<= 1.05), beside `_ratio_aa` (without again over without: the machine's own noise).

    python bench/relay_push.py      # or BENCH_ONLY=push python bench/relay.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp

from bench.relay import PACED_RATE, QUICK, Relay, echo, measure, ping_pong
from protocol import messages as m
from relay_server.storage import SqliteStore
from tests.support.push_testing import PushService, start_push_service

PAIRS = 50
PUSH_RATE = float(os.environ.get("BENCH_PUSH_RATE", "10"))  # pushes a second, all Nodes together
ROUNDS = 2 if QUICK else 4
COUNT = 20 if QUICK else 60  # messages per pair per round
WINDOWS = 4 if QUICK else 12  # alternating with/without windows for the pooled figures


async def notifier(
    nodes: list[tuple[aiohttp.ClientWebSocketResponse, str, str]], stop: asyncio.Event
) -> int:
    """The Nodes ask for approvals at PUSH_RATE in all; returns how many were asked."""
    sent, start = 0, time.perf_counter()
    sealed = "x" * 300  # the size of a sealed approval text; the Relay passes it on unread
    while not stop.is_set():
        ws, node_id, device_id = nodes[sent % len(nodes)]
        msg = m.Notify(
            kind="approval_waiting",
            event_id=f"{node_id}:approval:{uuid.uuid4().hex}",
            ids={"approval_id": uuid.uuid4().hex, "node_id": node_id},
            sealed={device_id: sealed},
        )
        await ws.send_str(m.encode(msg))
        sent += 1
        await asyncio.sleep(max(0.0, start + sent / PUSH_RATE - time.perf_counter()))
    return sent


async def run_push(results: dict[str, float]) -> None:
    service = start_push_service()
    # The push service runs on the vendor's machines, not the Relay's: here it shares two
    # cores with everything, so it yields to the Relay and the clients being measured.
    os.setpriority(os.PRIO_PROCESS, service.proc.pid, 19)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            relay = Relay(Path(tmp), PAIRS)
            os.environ["ORA_RELAY_PUSH_SERVICES"] = f"http://localhost:{service.port}"
            # Make the pairs first, then subscribe every device before the Relay starts.
            hashes = await _subscribe_all(relay, service, Path(tmp))
            try:
                found = await _rounds(relay, service, hashes)
            finally:
                relay.stop()
                os.environ.pop("ORA_RELAY_PUSH_SERVICES", None)
    finally:
        service.proc.terminate()
        service.proc.wait(5)
    results.update(found)
    print(
        f"push: {found['push_sent']:.0f} pushes at {PUSH_RATE:.0f}/s; paced p50 "
        f"{found['push_p50_ms_quiet']} -> {found['push_p50_ms_pushing']} ms "
        f"({found['push_p50_change_pct']:+.1f} %), p99 {found['push_p99_ms_quiet']} -> "
        f"{found['push_p99_ms_pushing']} ms ({found['push_p99_change_pct']:+.1f} %); pooled "
        f"routing p50 {found['push_routing_p50_ms_without']} -> "
        f"{found['push_routing_p50_ms_with']} ms (x{found['push_routing_p50_ratio']}), p99 "
        f"{found['push_routing_p99_ms_without']} -> {found['push_routing_p99_ms_with']} ms "
        f"(x{found['push_routing_p99_ratio']}), A/A x{found['push_routing_p50_ratio_aa']} "
        f"(p50) x{found['push_routing_p99_ratio_aa']} (p99)",
        flush=True,
    )


async def _subscribe_all(relay: Relay, service: PushService, data_dir: Path) -> list[str]:
    """Start the Relay once to learn its VAPID key, then subscribe each device."""
    await relay.start()
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{relay.port}/v1/push/key") as resp,
    ):
        key = (await resp.json())["application_server_key"]
    relay.stop()
    hashes: list[str] = []
    store = SqliteStore(data_dir / "relay.db")
    for node_id, _cred, device_id, _access in relay.pairs:
        sub = service.subscribe(key)
        hashes.append(str(sub["clientHash"]))
        await store.set_push(
            device_id, node_id, (sub["endpoint"], sub["keys"]["p256dh"], sub["keys"]["auth"])
        )
    await store.close()
    relay.count = 0  # the pairs exist: start() only launches the process again
    await relay.start()
    return hashes


async def _rounds(relay: Relay, service: PushService, hashes: list[str]) -> dict[str, float]:
    quiet: list[dict[str, float]] = []
    pushing: list[dict[str, float]] = []
    control: list[dict[str, float]] = []  # quiet again: the machine's own noise, A against A
    sent = 0
    async with aiohttp.ClientSession() as http:
        pairs = []
        nodes: list[tuple[aiohttp.ClientWebSocketResponse, str, str]] = []
        for node_id, node_token, device_id, access in relay.pairs:
            node_ws = await relay.connect(http, "node", node_token)
            dev_ws = await relay.connect(http, "device", access)
            pairs.append((dev_ws, node_ws, node_id))
            nodes.append((node_ws, node_id, device_id))
        await measure(pairs, 256, 5, PACED_RATE)  # warm up
        for _ in range(ROUNDS):
            quiet.append(await measure(pairs, 256, COUNT, PACED_RATE))
            control.append(await measure(pairs, 256, COUNT, PACED_RATE))
            stop = asyncio.Event()
            task = asyncio.create_task(notifier(nodes, stop))
            await asyncio.sleep(0.5)  # the push load is running before the measure starts
            pushing.append(await measure(pairs, 256, COUNT, PACED_RATE))
            stop.set()
            sent += await task
        pooled, more = await routing_with_and_without(pairs, nodes, WINDOWS, COUNT // 3)
        sent += more
        for dev_ws, node_ws, _ in pairs:
            await dev_ws.close()
            await node_ws.close()
    await asyncio.sleep(2.0)
    delivered = sum(len(service.notifications(h)) for h in hashes)

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    out: dict[str, float] = {"push_sent": float(sent), "push_delivered": float(delivered)}
    out.update(pooled)
    for key in ("p50_ms", "p99_ms"):
        q, p = med(quiet, key), med(pushing, key)
        out[f"push_{key}_quiet"] = round(q, 3)
        out[f"push_{key}_pushing"] = round(p, 3)
        out[f"push_{key.split('_')[0]}_change_pct"] = round((p - q) / q * 100, 1)
        c = med(control, key)
        out[f"push_{key.split('_')[0]}_noise_pct"] = round((c - q) / q * 100, 1)
    out["push_rate_per_s"] = PUSH_RATE
    out["target_push_change_pct"] = 5.0
    return out


async def routing_with_and_without(
    pairs: list[tuple[aiohttp.ClientWebSocketResponse, aiohttp.ClientWebSocketResponse, str]],
    nodes: list[tuple[aiohttp.ClientWebSocketResponse, str, str]],
    windows: int,
    count: int,
) -> tuple[dict[str, float], int]:
    """Paced round trips in short windows, with and without pushes, alternating (and in
    alternating order) so the machine's drift falls on both; percentiles of the pooled samples.
    A third pool, without pushes again, is the A/A figure: what this machine calls a change."""
    pools: dict[str, list[float]] = {"without": [], "with": [], "again": []}
    sent = 0
    for w in range(windows):
        order = ["without", "with", "again"] if w % 2 == 0 else ["with", "again", "without"]
        for label in order:
            stop = asyncio.Event()
            task = asyncio.create_task(notifier(nodes, stop)) if label == "with" else None
            if task is not None:
                await asyncio.sleep(0.3)  # the push load runs before the window opens
            echoes = [asyncio.create_task(echo(node)) for _, node, _ in pairs]
            await asyncio.gather(
                *(
                    ping_pong(dev, node_id, 256, count, pools[label], PACED_RATE)
                    for dev, _, node_id in pairs
                )
            )
            for e in echoes:
                e.cancel()
            if task is not None:
                stop.set()
                sent += await task

    def pct(label: str, q: float) -> float:
        rtts = sorted(pools[label])
        return rtts[min(len(rtts) - 1, int(len(rtts) * q))]

    out: dict[str, float] = {}
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        without, with_, again = pct("without", q), pct("with", q), pct("again", q)
        out[f"push_routing_{name}_ms_without"] = round(without, 3)
        out[f"push_routing_{name}_ms_with"] = round(with_, 3)
        out[f"push_routing_{name}_ratio"] = round(with_ / without, 3)
        out[f"push_routing_{name}_ratio_aa"] = round(again / without, 3)
    out["push_routing_samples"] = float(len(pools["with"]))
    return out, sent


if __name__ == "__main__":
    figures: dict[str, float] = {}
    asyncio.run(run_push(figures))
    print(json.dumps(figures))
