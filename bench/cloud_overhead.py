"""Request latency through the Cloud worker beside a direct litellm call to the same provider.

Cloud path: a device (in this process) -> Relay (subprocess) -> `ora-cloud` worker (subprocess)
-> the fake OpenAI-compatible provider (its own process, on loopback) -> streamed back, with
the E2EE session and the ledger claim on the way (the usage event is written after the reply
is complete, and its receipt follows `done`: not timed). Direct path: litellm
streaming from the same provider in this process. Both are timed from sending the request to
the last piece of the reply, in alternating rounds so that drift hits both alike.
Target: cloud median <= 1.05 x direct median + 5 ms. Last line: one JSON object.

    BENCH_QUICK=1 python bench/cloud_overhead.py     # fewer rounds, for a smoke run
    BENCH_WORKER_LOG=/tmp/w.log python bench/...     # keep the worker's JSON log (claim_ms,
                                                     # run_ms per request) to see where time goes
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.relay import REPO, free_port, wait_ready
from cloud_worker.__main__ import keygen
from protocol.tokens import new_token, token_hash
from relay_server.storage import NANO, SqliteStore
from relay_server.token_service import TokenService
from tests.support.device_client import Device
from tests.support.release import cloud_key_statement

QUICK = bool(os.environ.get("BENCH_QUICK"))
ROUNDS = 30 if QUICK else 200
WARMUP = 5
PROMPT = "what is on my calendar for tomorrow morning"
MODEL = "gpt-4o-mini"
# The provider in a process of its own, as a real one would be: neither path shares a loop with it.
PROVIDER = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from tests.support.fake_openai import FakeOpenAI
async def main():
    server = await FakeOpenAI().start()
    print(server.port, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def wait_worker(url: str) -> None:
    import urllib.request

    for _ in range(600):
        with urllib.request.urlopen(f"{url}/metrics", timeout=2) as resp:
            if 'ora_relay_connections{role="cloud"} 1.0' in resp.read().decode():
                return
        await asyncio.sleep(0.05)
    raise RuntimeError("the cloud worker never connected")


async def main() -> dict[str, object]:
    import litellm

    litellm.suppress_debug_info = True
    provider = subprocess.Popen(
        [sys.executable, "-c", PROVIDER, str(REPO)], stdout=subprocess.PIPE, cwd=REPO
    )
    assert provider.stdout is not None
    provider_url = f"http://127.0.0.1:{int(provider.stdout.readline())}/v1"
    keys = keygen()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        # One owner and device made directly in the Relay's database (pairing is not measured),
        # with a budget no benchmark run reaches.
        store = SqliteStore(data_dir / "relay.db")
        node_id, device_id = str(uuid.uuid4()), str(uuid.uuid4())
        await store.add_node(node_id, token_hash(new_token("nd")), "x")
        await store.add_device(device_id, node_id, "owner")
        await store.ensure_account(node_id, "relay-monthly", "active", 1000 * NANO)
        access = (await TokenService(store, 3600, 3600).issue(device_id)).access_token
        await store.close()

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        relay = subprocess.Popen(
            [sys.executable, "-m", "relay_server", "--port", str(port), "--data-dir", tmp],
            cwd=REPO,
            env={
                **os.environ,
                "ORA_RELAY_CLOUD_PUBLIC_KEY": keys["ORA_RELAY_CLOUD_PUBLIC_KEY"],
                "ORA_RELAY_CLOUD_KEY_STATEMENT": cloud_key_statement(
                    keys["ORA_RELAY_CLOUD_PUBLIC_KEY"]
                ),
                "ORA_RELAY_CLOUD_TOKEN_SHA256": keys["ORA_RELAY_CLOUD_TOKEN_SHA256"],
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "cloud_worker"],
            cwd=REPO,
            env={
                **os.environ,
                "ORA_CLOUD_RELAY_URL": url,
                "ORA_CLOUD_TOKEN": keys["ORA_CLOUD_TOKEN"],
                "ORA_CLOUD_PRIVATE_KEY": keys["ORA_CLOUD_PRIVATE_KEY"],
                "ORA_CLOUD_MODEL": f"openai/{MODEL}",
                "ORA_CLOUD_API_BASE": provider_url,
            },
            stdout=subprocess.DEVNULL,
            stderr=open(os.environ["BENCH_WORKER_LOG"], "ab")  # noqa: SIM115
            if os.environ.get("BENCH_WORKER_LOG")
            else subprocess.DEVNULL,
        )
        try:
            wait_ready(f"{url}/readyz")
            await wait_worker(url)
            device = Device(url, device_id=device_id, node_id=node_id, access_token=access)
            await device.connect(handshake=False)
            await device.cloud_handshake()

            async def through_cloud() -> float:
                t0 = time.perf_counter()
                _, text, _ = await device.cloud_chat(PROMPT)
                elapsed = device.last_done_at - t0  # the receipt that follows is not timed
                assert text.startswith("echo:"), text
                return elapsed

            async def direct() -> float:
                t0 = time.perf_counter()
                stream = await litellm.acompletion(
                    model=f"openai/{MODEL}",
                    api_base=provider_url,
                    api_key="not-needed",
                    messages=[{"role": "user", "content": PROMPT}],
                    stream=True,
                    stream_options={"include_usage": True},
                )
                pieces = [c.choices[0].delta.content or "" async for c in stream if c.choices]
                elapsed = time.perf_counter() - t0
                assert "".join(pieces).startswith("echo:")
                return elapsed

            for _ in range(WARMUP):
                await through_cloud()
                await direct()
            cloud_s: list[float] = []
            direct_s: list[float] = []
            for i in range(ROUNDS):
                # Alternate which goes first, so neither always runs on a warmer loop.
                if i % 2:
                    cloud_s.append(await through_cloud())
                    direct_s.append(await direct())
                else:
                    direct_s.append(await direct())
                    cloud_s.append(await through_cloud())
            # The fixed path without the provider: a retried request id, refused by the ledger
            # (device -> Relay -> worker -> claim -> Relay -> worker -> done -> device).
            await device.cloud_chat(PROMPT, request_id="bench-retried-id")
            fixed_s: list[float] = []
            for _ in range(ROUNDS // 2):
                t0 = time.perf_counter()
                await device.cloud_chat(PROMPT, request_id="bench-retried-id")
                fixed_s.append(device.last_done_at - t0)
            await device.close()
        finally:
            worker.terminate()
            relay.terminate()
            worker.wait(10)
            relay.wait(10)
            provider.terminate()
            provider.wait(10)

    cloud_ms = statistics.median(cloud_s) * 1000
    direct_ms = statistics.median(direct_s) * 1000
    target_ms = 1.05 * direct_ms + 5
    return {
        "rounds": ROUNDS,
        "cloud_ms_median": round(cloud_ms, 2),
        "direct_ms_median": round(direct_ms, 2),
        "cloud_ms_p90": round(statistics.quantiles(cloud_s, n=10)[-1] * 1000, 2),
        "direct_ms_p90": round(statistics.quantiles(direct_s, n=10)[-1] * 1000, 2),
        "overhead_ms": round(cloud_ms - direct_ms, 2),
        "fixed_path_ms_median": round(statistics.median(fixed_s) * 1000, 2),
        "target_ms": round(target_ms, 2),
        "within_target": cloud_ms <= target_ms,
    }


if __name__ == "__main__":
    result = asyncio.run(main())
    print(
        f"through the Cloud worker: median {result['cloud_ms_median']} ms "
        f"(p90 {result['cloud_ms_p90']} ms); direct litellm: median {result['direct_ms_median']} ms "
        f"(p90 {result['direct_ms_p90']} ms)"
    )
    print(
        f"overhead {result['overhead_ms']} ms (the path without the provider, a refused "
        f"retry: {result['fixed_path_ms_median']} ms); target <= 1.05 x direct + 5 ms = "
        f"{result['target_ms']} ms: {'met' if result['within_target'] else 'NOT met'}"
    )
    print(json.dumps(result))
