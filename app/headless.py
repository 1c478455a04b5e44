"""`ora --headless`: the Node without a display; the terminal stands in for the tray."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

from app.core.runtime import Runtime
from app.settings import Settings
from app.terminal import chat
from app.version import __version__


async def run(settings: Settings) -> int:
    """Start the core and say plainly what this version can and cannot do yet."""
    if sys.stdin.isatty():
        return await chat(settings)
    runtime = await Runtime.open(settings)
    try:
        await runtime.wait_ready()
        enabled = [s.config.name for s in runtime.providers.statuses if s.enabled]
        print(f"ORA {__version__} running headless — {settings.profile.value} profile")
        print(f"  state:     {settings.state_dir}")
        print(f"  secrets:   {runtime.secrets.backend_description}")
        print(
            f"  providers: {', '.join(enabled) if enabled else 'none (explicit commands only; see README)'}"
        )
        print(
            "  relay:     not included in this version yet; pairing a phone comes with the Relay link"
        )
        print("  Press Ctrl+C to stop. For a terminal chat, run: ora chat", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        return 0
    finally:
        await runtime.close()
