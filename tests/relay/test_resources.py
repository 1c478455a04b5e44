"""A reader that stops reading costs the Relay a bounded amount of memory, then its connection:
20 Nodes stall while their devices push 1 MiB frames at them (an attacker in its own process),
and a real Relay process stays well within +64 MB of its idle RSS while other pairs keep chatting."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.relay import STALLED_PAIRS, Relay, stalled_scenario

pytestmark = pytest.mark.slow


async def test_stalled_readers_are_closed_and_bound_the_relays_memory(tmp_path: Path) -> None:
    relay = await Relay(tmp_path, STALLED_PAIRS + 5).start()
    try:
        found = await stalled_scenario(relay)
    finally:
        relay.stop()
    print(found)
    assert found["stalled_closed"] == STALLED_PAIRS, "every stalled Node is disconnected"
    # The bound is 64 MB; measured +30-34 MB (was +60-65 MB when a routed frame, the
    # frame a sender was held to its rate for and a written one stayed alive uncounted): 48
    # keeps a margin and still catches one of those coming back.
    assert found["stalled_rss_growth_mb"] < 48
    # The attacker pushed far more than the Relay kept: it was not buffered on its behalf.
    assert found["stalled_frames_pushed"] > 64
    # The pairs that keep reading are served throughout (every round trip answered) and are
    # not held up behind the stalled ones (no wait for a write timeout). Their median round
    # trip still grows while the Relay reads what the kernels buffered before each stall;
    # bench/relay.py reports it (stalled_other_p50_ms_before/_during).
    assert found["stalled_other_p50_ms_during"] < 1000
