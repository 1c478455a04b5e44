"""One Relay instance as several processes on one port (`ORA_RELAY_WORKERS`).

A Python process routes on one core and holds as many sockets as its file-descriptor limit
allows; a host with more cores, or with a limit below the phones it should carry, runs several
workers. Each binds the same port with SO_REUSEPORT, so the kernel spreads new connections over
them (no process in the middle, no byte copied twice). The workers are instances of one cluster:
they share PostgreSQL and Redis exactly as instances on separate hosts do, so a frame between a
Node and a device held by two workers crosses Redis.

This supervisor starts them, starts again one that dies (its phones reconnect to the others
meanwhile, as after any instance's restart) and stops them all on SIGTERM or SIGINT. Limits that
an operator sets for the instance (new sockets a second, attempts per address, registrations)
are divided among the workers, since the kernel spreads one client's connections over all.
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import signal
import subprocess
import sys
import time
from collections import deque
from types import FrameType

from relay_server.settings import RelaySettings, SettingsError

_LOGGER = logging.getLogger(__name__)
POLL_S = 0.2
STOP_GRACE_S = 10.0
# A worker that keeps dying (a bad setting it only finds when serving, a port taken by
# another user) is not restarted forever: this many exits in RESTART_WINDOW_S stop the instance.
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
_PR_SET_PDEATHSIG = 1


def check(settings: RelaySettings) -> None:
    """Several workers are a cluster: they need the shared database and Redis."""
    if settings.workers < 1:
        raise SettingsError("ORA_RELAY_WORKERS: must be 1 or more")
    if settings.workers > 1 and not (settings.database_url and settings.redis_url):
        raise SettingsError(
            "ORA_RELAY_WORKERS: several workers share PostgreSQL and Redis: "
            "set DATABASE_URL and REDIS_URL (the embedded SQLite serves one process)"
        )


def worker_env(settings: RelaySettings, index: int) -> dict[str, str]:
    """Worker `index`'s environment: the instance's own, with its share of the limits."""
    n = settings.workers

    def share(total: float) -> str:
        return str(max(1, math.ceil(total / n)))

    env = {
        **os.environ,
        "ORA_RELAY_WORKERS": "1",
        "ORA_RELAY_WORKER_INDEX": str(index),
        "ORA_RELAY_IP_ATTEMPTS_PER_MINUTE": share(settings.ip_attempts_per_minute),
        "ORA_RELAY_NODE_REGISTRATIONS_PER_HOUR": share(settings.node_registrations_per_hour),
    }
    if settings.accept_per_s > 0:  # 0 is "unlimited", and stays so
        env["ORA_RELAY_ACCEPT_PER_S"] = str(settings.accept_per_s / n)
        env["ORA_RELAY_ACCEPT_BURST"] = share(settings.accept_burst)
    return env


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills it if the supervisor dies, even by SIGKILL
    (an orphaned worker would keep serving the port with nobody to stop it)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def supervise(settings: RelaySettings, argv: list[str]) -> int:
    """Run `settings.workers` Relay processes on the port until told to stop."""
    check(settings)
    if not settings.vapid_private_key:
        # Made once here: workers starting together must not each make a different key.
        from relay_server.push import VapidKey

        VapidKey.load_or_create(settings.vapid_path)
    command = [sys.executable, "-m", "relay_server", *argv]

    def spawn(index: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command, env=worker_env(settings, index), preexec_fn=_die_with_parent
        )

    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    workers = [spawn(i) for i in range(settings.workers)]
    _LOGGER.info(
        "%d workers on %s:%s (pids %s)",
        settings.workers,
        settings.host,
        settings.port,
        " ".join(str(w.pid) for w in workers),
    )
    exits: deque[float] = deque(maxlen=MAX_RESTARTS)
    status = 0
    while not stopping:
        time.sleep(POLL_S)
        for index, worker in enumerate(workers):
            code = worker.poll()
            if code is None or stopping:
                continue
            now = time.monotonic()
            exits.append(now)
            if len(exits) == MAX_RESTARTS and now - exits[0] < RESTART_WINDOW_S:
                _LOGGER.error(
                    "worker %d exited with %d; %d exits in %.0f s: stopping the instance",
                    index,
                    code,
                    MAX_RESTARTS,
                    RESTART_WINDOW_S,
                )
                stopping.append(0)
                status = 1
                break
            _LOGGER.warning("worker %d exited with %d; starting it again", index, code)
            workers[index] = spawn(index)
    for worker in workers:
        if worker.poll() is None:
            worker.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for worker in workers:
        try:
            worker.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    _LOGGER.info("workers stopped")
    return status
