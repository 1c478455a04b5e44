"""`ora-cloud`: run a Cloud worker (JSON logs, never request content), or make its keys.

ora-cloud                 run, configured by ORA_CLOUD_* variables
ora-cloud keygen          print a new Cloud keypair and worker credential, with the
                          values the Relay needs (public key, credential hash)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time

import prometheus_client as prom
from aiohttp import web

from cloud_worker.executor import Executor
from cloud_worker.settings import CloudSettings, SettingsError
from cloud_worker.worker import CloudWorker, RelayRefusedWorker
from protocol import e2ee
from protocol.encoding import b64u_encode
from protocol.tokens import new_token, token_hash

# Fields a record may carry into the log: metadata only, by name, so content cannot slip in.
_FIELDS = (
    "request_id",
    "device_id",
    "code",
    "model",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "outcome",
    "charged",
    "ms",
    "claim_ms",
    "run_ms",
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def __init__(self, worker: str) -> None:
        super().__init__()
        self._worker = worker

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": round(time.time(), 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "worker": self._worker,
            "msg": record.getMessage(),
        }
        entry.update({k: getattr(record, k) for k in _FIELDS if hasattr(record, k)})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def keygen() -> dict[str, str]:
    """A Cloud keypair and a worker credential, and what the Relay is configured with."""
    private, public = e2ee.generate_keypair()
    credential = new_token("cw")
    return {
        "ORA_CLOUD_PRIVATE_KEY": b64u_encode(private),
        "ORA_CLOUD_TOKEN": credential,
        "ORA_RELAY_CLOUD_PUBLIC_KEY": b64u_encode(public),
        "ORA_RELAY_CLOUD_TOKEN_SHA256": token_hash(credential),
    }


async def _serve(worker: CloudWorker) -> None:
    """The worker, and its health and metrics endpoints when a port is configured."""
    runner: web.AppRunner | None = None
    if worker.settings.metrics_port:

        async def healthz(request: web.Request) -> web.Response:
            ready = worker.connected.is_set()
            return web.json_response({"connected": ready}, status=200 if ready else 503)

        async def metrics(request: web.Request) -> web.Response:
            body = prom.generate_latest(worker.metrics.registry)
            return web.Response(body=body, headers={"Content-Type": prom.CONTENT_TYPE_LATEST})

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(
            runner, worker.settings.metrics_host, worker.settings.metrics_port
        ).start()
    try:
        await worker.run()
    finally:
        if runner is not None:
            await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Entry point of `ora-cloud`."""
    p = argparse.ArgumentParser(prog="ora-cloud", description="An ORA Cloud worker")
    p.add_argument("command", nargs="?", choices=["run", "keygen"], default="run")
    args = p.parse_args(argv)
    if args.command == "keygen":
        print(json.dumps(keygen(), indent=2))
        return 0
    try:
        settings = CloudSettings.from_env()
    except SettingsError as err:
        print(f"ora-cloud: {err}", file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(settings.name))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    for noisy in ("LiteLLM", "litellm", "httpx", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    log = logging.getLogger("cloud_worker")
    log.info("cloud worker starting for %s", settings.relay_url)
    worker = CloudWorker(settings=settings, executor=Executor(settings))
    try:
        asyncio.run(_serve(worker))
    except RelayRefusedWorker as err:
        log.error("%s", err)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
