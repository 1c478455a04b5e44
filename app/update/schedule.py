"""Update checks at start and then every `check_interval_h`, for the tray (or headless Node)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from app.update.errors import UpdateError
from app.update.service import Available, UpdateService

_LOGGER = logging.getLogger(__name__)


async def check_periodically(
    service: UpdateService,
    on_available: Callable[[Available], None],
    *,
    interval_s: float,
    on_error: Callable[[UpdateError], None] | None = None,
    first_delay_s: float = 0.0,
) -> None:
    """Check now (after `first_delay_s`) and every `interval_s` until cancelled; no-op when off."""
    if not service.enabled:
        return
    await asyncio.sleep(first_delay_s)
    while True:
        try:
            # tufup is blocking (requests); keep it off the event loop.
            found = await asyncio.to_thread(service.check)
        except UpdateError as err:
            _LOGGER.warning("update check failed: %s", err)
            if on_error is not None:
                on_error(err)
        else:
            if found is not None:
                on_available(found)
        await asyncio.sleep(interval_s)
