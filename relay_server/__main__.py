"""`ora-relay`: run the Relay (SQLite, in-process routing) with JSON logs; or, for operators,
print an account's monthly statement or set its Cloud budget or subscription state.

    ora-relay [--host H] [--port P] [--data-dir D]
    ora-relay statement ACCOUNT_ID [--month YYYY-MM] [--data-dir D]
    ora-relay account ACCOUNT_ID [--budget-usd X] [--status active|past_due|cancelled]

With ORA_RELAY_WORKERS=N (and DATABASE_URL, REDIS_URL) it supervises N Relay processes sharing
the port (relay_server/workers.py).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import socket
import sys
import time
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

from aiohttp import web

from relay_server import workers
from relay_server.app import create_app, open_store
from relay_server.billing import Billing, month_of, to_nusd
from relay_server.memory import return_large_buffers_to_os
from relay_server.metrics import METRICS
from relay_server.settings import RelaySettings, SettingsError
from relay_server.storm_gc import storm_gc


class JsonFormatter(logging.Formatter):
    """One JSON object per line; never frame content (the Relay has none in plaintext anyway)."""

    def __init__(self, worker: int = -1) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": round(time.time(), 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if self.worker >= 0:
            entry["worker"] = self.worker
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


async def _admin(args: argparse.Namespace) -> int:
    """The `statement` and `account` commands, on the configured store."""
    settings = RelaySettings.from_env(data_dir=args.data_dir)
    store = await open_store(settings)
    try:
        billing = Billing(store, settings)
        if args.command == "statement":
            month = args.month or month_of(time.time())
            print(json.dumps(await billing.statement(args.account_id, month), indent=2))
            return 0
        await billing.account(args.account_id)
        if args.budget_usd is not None:
            await store.set_account_budget(args.account_id, to_nusd(args.budget_usd))
        if args.status is not None:
            # An operator's change is "now": a later provider event still wins over it.
            await store.set_account_status(args.account_id, args.status, time.time())
        account = await billing.account(args.account_id)
        print(
            json.dumps(
                {
                    "account_id": account.account_id,
                    "plan": account.plan,
                    "status": account.status,
                    "cloud_budget_usd": account.budget_nusd / 1e9,
                }
            )
        )
        return 0
    finally:
        await store.close()


def _admin_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="ora-relay", description="ORA Relay accounts")
    sub = p.add_subparsers(dest="command", required=True)
    st = sub.add_parser("statement", help="print an account's monthly statement (JSON)")
    st.add_argument("account_id")
    st.add_argument("--month", help="YYYY-MM (default: this month, UTC)")
    st.add_argument("--data-dir", type=Path, default=None)
    ac = sub.add_parser("account", help="show or change an account's budget or state")
    ac.add_argument("account_id")
    ac.add_argument("--budget-usd", type=float, default=None)
    ac.add_argument("--status", choices=["active", "past_due", "cancelled"], default=None)
    ac.add_argument("--data-dir", type=Path, default=None)
    try:
        return asyncio.run(_admin(p.parse_args(argv)))
    except SettingsError as err:
        print(f"ora-relay: {err}", file=sys.stderr)
        return 2


async def _freeze_startup_objects(app: web.Application) -> None:
    """Move what start-up made (modules, the app, its services) out of the collector's sight:
    they live as long as the process, and every full collection would walk them again while
    frames wait behind it."""
    gc.collect()
    gc.freeze()
    app[METRICS].watch_gc()


async def _freeze_survivors(period_s: float, _app: web.Application) -> AsyncIterator[None]:
    """ORA_RELAY_GC_FREEZE_S: freeze what survived, every period (see settings.gc_freeze_s)."""

    async def freeze() -> None:
        while True:
            await asyncio.sleep(period_s)
            gc.freeze()

    task = asyncio.create_task(freeze())
    yield
    task.cancel()


KERNEL_BACKLOG = 4096
ACCEPT_BATCH = 64


async def _widen_backlog(sock: socket.socket, _app: web.Application) -> None:
    """asyncio calls listen(ACCEPT_BATCH) when it starts serving, just after start-up: raise
    the kernel's queue again once it has."""

    async def widen() -> None:
        await asyncio.sleep(0.5)
        sock.listen(KERNEL_BACKLOG)

    task = asyncio.get_running_loop().create_task(widen())
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


_BACKGROUND: set[asyncio.Task[None]] = set()


def main(argv: list[str] | None = None) -> int:
    """Entry point of `ora-relay`."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("statement", "account"):
        return _admin_main(argv)
    p = argparse.ArgumentParser(prog="ora-relay", description="The ORA Relay")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--data-dir", type=Path, default=None)
    args = p.parse_args(argv)
    try:
        settings = RelaySettings.from_env(host=args.host, port=args.port, data_dir=args.data_dir)
        workers.check(settings)
    except SettingsError as err:
        print(f"ora-relay: {err}", file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(settings.worker_index))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if settings.workers > 1:
        return workers.supervise(settings, argv)
    logging.getLogger(__name__).info("relay starting on %s:%s", settings.host, settings.port)
    return_large_buffers_to_os()  # frames of 1 MiB: freed memory goes back, RSS comes down
    app = create_app(settings)
    app.on_startup.append(_freeze_startup_objects)
    app.cleanup_ctx.append(storm_gc)  # no full collection while a reconnect storm comes in
    if settings.gc_freeze_s > 0:
        app.cleanup_ctx.append(partial(_freeze_survivors, settings.gc_freeze_s))
    # A reconnect storm (thousands of phones at once after a restart): the kernel queues up to
    # KERNEL_BACKLOG handshakes (capped by net.core.somaxconn; fewer drops SYNs and costs the
    # phones seconds), while asyncio takes only ACCEPT_BATCH of them per turn of the event
    # loop (it uses `backlog` for both): taking 4,096 in one turn stalled routing for seconds.
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    # A worker shares the port with its siblings; the kernel spreads connections over them.
    worker = settings.worker_index >= 0
    sock = socket.create_server(
        (settings.host, settings.port), family=family, backlog=KERNEL_BACKLOG, reuse_port=worker
    )
    socks = [sock]
    if worker and settings.worker_metrics_port:
        own = (settings.host, settings.worker_metrics_port + settings.worker_index)
        socks.append(socket.create_server(own, family=family))
    app.on_startup.append(partial(_widen_backlog, sock))
    web.run_app(app, sock=socks, print=None, access_log=None, backlog=ACCEPT_BATCH)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
