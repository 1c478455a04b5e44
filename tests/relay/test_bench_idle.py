"""Smoke test of the idle-phones bench (bench/relay_idle.py) at a small N: the raw phones are
welcomed and held, and a storm past the configured accept rate is told to come back (503 +
Retry-After), never refused otherwise. No timings are asserted (CI machines are small)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_idle_phones_held_and_storm_told_to_come_back() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "BENCH_ONLY": "idle",
        "BENCH_IDLE_N": "300",
        "BENCH_STORM_N": "300",
        "BENCH_IDLE_WINDOW_S": "1",
        "BENCH_STORM_ACCEPT_PER_S": "100",
        "BENCH_STORM_ACCEPT_BURST": "20",
    }
    done = subprocess.run(
        [sys.executable, "bench/relay.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["idle_connections_held"] == 300
    assert found["idle_connect_failed"] == 0
    assert found["kb_per_idle_conn_scale"] > 0
    assert found["reconnect_storm_in"] == 300
    assert found["reconnect_storm_refused"] == 0
    assert found["reconnect_storm_rate_limited"] > 0  # the rate held: the rest came back later


def test_idle_phones_on_one_instance_of_several_workers() -> None:
    """The 100k bench's path (more phones than one process may hold), at 200 phones over two
    workers on the machine's PostgreSQL and Redis: every phone welcomed and still held."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "BENCH_IDLE_N": "200",
        "BENCH_IDLE_WORKERS": "2",
        "BENCH_IDLE_WINDOW_S": "1",
    }
    done = subprocess.run(
        [sys.executable, "bench/relay_idle_workers.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["relay_workers"] == 2
    assert found["idle_workers_connections_held"] == 200
    assert found["idle_workers_connections_after_window"] == 200
    assert found["kb_per_idle_conn_workers"] > 0
    assert len(found["idle_workers_rss_mb_each"]) == 2
