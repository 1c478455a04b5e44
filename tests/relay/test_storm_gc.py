"""While connections storm in, the Relay puts full garbage collections off (their pauses stop
routing for everyone already connected), and gives them back once the storm is over, so the
old generation's garbage is collected again (relay_server/storm_gc.py)."""

from __future__ import annotations

import asyncio
import gc

import pytest

from relay_server import storm_gc


async def test_full_collections_held_during_a_storm_and_given_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(storm_gc, "CALM_S", 0.05)
    before = gc.get_threshold()
    live = [0]
    task = asyncio.create_task(storm_gc.hold_full_collections(lambda: live[0], period_s=0.02))
    try:
        for _ in range(5):  # +50 connections every 20 ms: 2,500 a second
            live[0] += 50
            await asyncio.sleep(0.02)
        assert gc.get_threshold()[2] == storm_gc.NO_FULL_PASSES
        assert gc.get_threshold()[:2] == before[:2]  # the young generations as usual
        await asyncio.sleep(0.3)  # calm
        assert gc.get_threshold() == before
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert gc.get_threshold() == before
