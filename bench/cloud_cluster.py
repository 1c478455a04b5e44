"""What reaching a Cloud worker on another Relay instance costs, beside one on the same instance.

Two Relay processes (A and B) on one PostgreSQL database and one Redis, one `ora-cloud` worker
connected to B, the fake OpenAI-compatible provider in its own process. Two devices of the same
owner: one connected to B (worker local), one to A (its frames go A -> Redis -> B and the
worker's back B -> Redis -> A). Each request is timed from sending it to the last piece of the
streamed reply, in alternating rounds so that drift hits both alike.
Target: cross-instance median <= local median + 5 ms. Last line: one JSON object.

    BENCH_QUICK=1 python bench/cloud_cluster.py     # fewer rounds, for a smoke run

Needs PostgreSQL at postgresql://postgres@127.0.0.1:5432 and Redis at 127.0.0.1:6379 (as the
tests do); makes and drops a database of its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg

from bench.cloud_overhead import PROVIDER, wait_worker
from bench.relay import REPO, free_port, wait_ready
from cloud_worker.__main__ import keygen
from protocol.tokens import new_token, token_hash
from relay_server.storage import NANO, PostgresStore
from relay_server.token_service import TokenService
from tests.support.device_client import Device
from tests.support.release import cloud_key_statement

QUICK = bool(os.environ.get("BENCH_QUICK"))
ROUNDS = 30 if QUICK else 200
WARMUP = 5
PROMPT = "what is on my calendar for tomorrow morning"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"


async def main() -> dict[str, object]:
    name = f"ora_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        # One owner and two devices made directly in the shared database (pairing not measured).
        store = await PostgresStore.connect(dsn)
        node_id = str(uuid.uuid4())
        await store.add_node(node_id, token_hash(new_token("nd")), "x")
        await store.ensure_account(node_id, "relay-monthly", "active", 1000 * NANO)
        devices: dict[str, tuple[str, str]] = {}
        for where in ("a", "b"):
            device_id = str(uuid.uuid4())
            await store.add_device(device_id, node_id, "owner")
            access = (await TokenService(store, 3600, 3600).issue(device_id)).access_token
            devices[where] = (device_id, access)
        await store.close()

        provider = subprocess.Popen(
            [sys.executable, "-c", PROVIDER, str(REPO)], stdout=subprocess.PIPE, cwd=REPO
        )
        procs.append(provider)
        assert provider.stdout is not None
        provider_url = f"http://127.0.0.1:{int(provider.stdout.readline())}/v1"
        keys = keygen()
        shared = {
            "DATABASE_URL": dsn,
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "ORA_RELAY_REDIS_PREFIX": f"ora-bench-{name}",
            "ORA_RELAY_CLOUD_PUBLIC_KEY": keys["ORA_RELAY_CLOUD_PUBLIC_KEY"],
            "ORA_RELAY_CLOUD_KEY_STATEMENT": cloud_key_statement(
                keys["ORA_RELAY_CLOUD_PUBLIC_KEY"]
            ),
            "ORA_RELAY_CLOUD_TOKEN_SHA256": keys["ORA_RELAY_CLOUD_TOKEN_SHA256"],
        }
        with TemporaryDirectory() as tmp:
            urls: dict[str, str] = {}
            for where in ("a", "b"):
                port = free_port()
                urls[where] = f"http://127.0.0.1:{port}"
                data_dir = Path(tmp) / where
                data_dir.mkdir()
                cmd = [sys.executable, "-m", "relay_server", "--port", str(port)]
                procs.append(
                    subprocess.Popen(
                        [*cmd, "--data-dir", str(data_dir)],
                        cwd=REPO,
                        env={**os.environ, **shared},
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
                wait_ready(f"{urls[where]}/readyz")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "cloud_worker"],
                    cwd=REPO,
                    env={
                        **os.environ,
                        "ORA_CLOUD_RELAY_URL": urls["b"],
                        "ORA_CLOUD_TOKEN": keys["ORA_CLOUD_TOKEN"],
                        "ORA_CLOUD_PRIVATE_KEY": keys["ORA_CLOUD_PRIVATE_KEY"],
                        "ORA_CLOUD_MODEL": "openai/gpt-4o-mini",
                        "ORA_CLOUD_API_BASE": provider_url,
                    },
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            await wait_worker(urls["b"])
            phones: dict[str, Device] = {}
            for where, (device_id, access) in devices.items():
                phone = Device(
                    urls[where], device_id=device_id, node_id=node_id, access_token=access
                )
                await phone.connect(handshake=False)
                await phone.cloud_handshake()
                phones[where] = phone

            async def request(where: str) -> float:
                t0 = time.perf_counter()
                _, text, _ = await phones[where].cloud_chat(PROMPT)
                assert text.startswith("echo:"), text
                return phones[where].last_done_at - t0  # the receipt after `done`: not timed

            for _ in range(WARMUP):
                await request("a")
                await request("b")
            times: dict[str, list[float]] = {"a": [], "b": []}
            for i in range(ROUNDS):
                for where in ("a", "b") if i % 2 else ("b", "a"):
                    times[where].append(await request(where))
            for phone in phones.values():
                await phone.close()
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(10)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    local_ms = statistics.median(times["b"]) * 1000
    remote_ms = statistics.median(times["a"]) * 1000
    return {
        "rounds": ROUNDS,
        "local_ms_median": round(local_ms, 2),
        "cross_instance_ms_median": round(remote_ms, 2),
        "local_ms_p90": round(statistics.quantiles(times["b"], n=10)[-1] * 1000, 2),
        "cross_instance_ms_p90": round(statistics.quantiles(times["a"], n=10)[-1] * 1000, 2),
        "extra_ms": round(remote_ms - local_ms, 2),
        "target_ms": round(local_ms + 5, 2),
        "within_target": remote_ms <= local_ms + 5,
    }


if __name__ == "__main__":
    result = asyncio.run(main())
    print(
        f"worker on the device's instance: median {result['local_ms_median']} ms; "
        f"on another instance: median {result['cross_instance_ms_median']} ms "
        f"(+{result['extra_ms']} ms)"
    )
    print(json.dumps(result))
