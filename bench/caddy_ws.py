"""WebSocket round trips through Caddy (TLS, the deploy/ Caddyfile's proxy settings) vs direct.

An aiohttp echo server stands where a Relay instance would; the same client sends 256 B and
64 KB messages one at a time, alternating between the direct path and the path through Caddy
in rounds, so both see the same machine load. The difference is what the proxy adds; "no
added buffering" means the p99 difference stays within a millisecond or two and does not grow
with the message size. Prints JSON.

    python bench/caddy_ws.py [--rounds 10] [--per-round 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

CADDYFILE = """{{
\tadmin 127.0.0.1:{admin}
\thttp_port {http}
\thttps_port {https}
\tskip_install_trust
}}
relay.ora.test {{
\ttls internal
\treverse_proxy 127.0.0.1:{upstream} {{
\t\tflush_interval -1
\t}}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=1 << 20)
    await ws.prepare(request)
    async for msg in ws:
        await ws.send_bytes(msg.data)
    return ws


class _Loopback(aiohttp.abc.AbstractResolver):
    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list:
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        pass


async def round_trips(ws: aiohttp.ClientWebSocketResponse, payload: bytes, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await ws.send_bytes(payload)
        await ws.receive()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    return round(statistics.quantiles(values, n=100)[int(q) - 1], 3)


async def main(rounds: int, per_round: int) -> dict[str, object]:
    caddy = shutil.which("caddy")
    if caddy is None:
        sys.exit("caddy is not installed (scripts/setup.sh test installs it)")
    upstream, https = free_port(), free_port()
    runner = web.AppRunner(web.Application(), access_log=None)
    runner.app.router.add_get("/ws", echo)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", upstream).start()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "Caddyfile"
        conf.write_text(
            CADDYFILE.format(admin=free_port(), http=free_port(), https=https, upstream=upstream)
        )
        env = {**os.environ, "XDG_DATA_HOME": f"{tmp}/data", "XDG_CONFIG_HOME": f"{tmp}/conf"}
        proc = subprocess.Popen(
            [caddy, "run", "--config", str(conf), "--adapter", "caddyfile"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            root = Path(tmp) / "data/caddy/pki/authorities/local/root.crt"
            for _ in range(200):
                if root.exists():
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            ctx = ssl.create_default_context(cafile=str(root))
            conn = aiohttp.TCPConnector(ssl=ctx, resolver=_Loopback())
            async with aiohttp.ClientSession(connector=conn) as http:
                direct = await http.ws_connect(f"http://127.0.0.1:{upstream}/ws", max_msg_size=0)
                proxied = await http.ws_connect(
                    f"https://relay.ora.test:{https}/ws", max_msg_size=0
                )
                result: dict[str, object] = {"rounds": rounds, "per_round": per_round}
                for label, size in (("256b", 256), ("64kb", 64 * 1024)):
                    payload = os.urandom(size)
                    await round_trips(direct, payload, 50)  # warm both paths
                    await round_trips(proxied, payload, 50)
                    d: list[float] = []
                    p: list[float] = []
                    for _ in range(rounds):
                        d += await round_trips(direct, payload, per_round)
                        p += await round_trips(proxied, payload, per_round)
                    result[f"direct_p50_ms_{label}"] = pct(d, 50)
                    result[f"direct_p99_ms_{label}"] = pct(d, 99)
                    result[f"caddy_p50_ms_{label}"] = pct(p, 50)
                    result[f"caddy_p99_ms_{label}"] = pct(p, 99)
                    result[f"caddy_added_p99_ms_{label}"] = round(pct(p, 99) - pct(d, 99), 3)
                await direct.close()
                await proxied.close()
        finally:
            proc.terminate()
            proc.wait(10)
            await runner.cleanup()
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.rounds, args.per_round)), indent=2))
