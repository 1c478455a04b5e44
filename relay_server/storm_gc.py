"""No full garbage collection while a reconnect storm comes in; the usual ones after.

A full pass walks every live object and stops routing meanwhile, and CPython starts one each
time the objects that survived grew by a quarter: a heap that grows from a few to 10,000
connections in seconds gets 2-6 of them (0.4-1 s each on the development machine), right
while the herd comes in, and the hellos that arrived meanwhile are then worked off in one go
while the pairs already connected wait. While connections grow faster than
STORM_CONNECTIONS_PER_S, the old generation is left alone (gen0 and gen1 are still collected
as usual): what it would walk is mostly the connections that just arrived, which live on.
Its next pass comes when CPython decides, after the storm. Nothing is frozen (unlike
ORA_RELAY_GC_FREEZE_S, nothing can leak), and a storm holds full passes off for MAX_HOLD_S at
most.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from relay_server.relay import RELAY

_LOGGER = logging.getLogger(__name__)
STORM_CONNECTIONS_PER_S = 100  # new live connections a second from which it is a storm
CALM_S = 3.0  # below that rate this long: the storm is over
# A storm that never ends must not put full collections off for ever (garbage in the old
# generation would pile up). 10,000 phones at 600/s take ~17 s.
MAX_HOLD_S = 120.0
NO_FULL_PASSES = 1 << 30


async def hold_full_collections(connections: Callable[[], int], period_s: float = 1.0) -> None:
    """Watch how fast `connections()` grows; hold full collections while it storms."""
    thresholds = gc.get_threshold()
    held = spent = False  # spent: held for MAX_HOLD_S, not again until a calm
    held_since = calm_since = 0.0
    seen = connections()
    loop = asyncio.get_running_loop()
    try:
        while True:
            await asyncio.sleep(period_s)
            now, count = loop.time(), connections()
            rate, seen = (count - seen) / period_s, count
            if held and now - held_since >= MAX_HOLD_S:
                held, spent = False, True
                gc.set_threshold(*thresholds)
                _LOGGER.warning("storm for %.0f s: full collections as usual again", MAX_HOLD_S)
            if rate >= STORM_CONNECTIONS_PER_S:
                calm_since = 0.0
                if not held and not spent:
                    held, held_since = True, now
                    thresholds = gc.get_threshold()
                    gc.set_threshold(thresholds[0], thresholds[1], NO_FULL_PASSES)
                    _LOGGER.info("reconnect storm (+%.0f connections/s): full GC held", rate)
            elif held or spent:
                calm_since = calm_since or now
                if now - calm_since >= CALM_S:
                    if held:
                        gc.set_threshold(*thresholds)
                        _LOGGER.info("reconnect storm over: full collections as usual")
                    held = spent = False
    finally:
        if held:
            gc.set_threshold(*thresholds)


async def storm_gc(app: web.Application) -> AsyncIterator[None]:
    """The app's cleanup context: hold full collections while its connections storm in."""
    hub = app[RELAY].hub
    task = asyncio.get_running_loop().create_task(
        hold_full_collections(lambda: len(hub.devices) + len(hub.nodes))
    )
    yield
    task.cancel()
